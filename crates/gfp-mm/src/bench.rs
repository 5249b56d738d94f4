//! The benchmark behind `gfp bench`: alloc+free pairs in batches, single-
//! and multi-threaded, for this allocator, a bare `Vec` free stack (the
//! floor) and `buddy_system_allocator`'s `FrameAllocator`.
//!
//! A round allocates `batch` blocks of the order and frees them again;
//! `ns_per_pair` is the wall time of a sample divided by the pairs all its
//! threads completed. Each configuration runs several samples and reports
//! their median.

use std::boxed::Box;
use std::string::String;
use std::sync::{Barrier, Mutex};
use std::time::Instant;
use std::vec::Vec;

use gfp::Gfp;

use crate::page::Page;
use crate::rt::{bind_current_thread, Mm};
use crate::spec::MachineSpec;

/// Runs `$body` with `$o` a const generic parameter equal to `$order`
/// (0..=10), so that every contender's inner loop sees its order as a
/// constant, as a kernel call site does.
macro_rules! with_order {
    ($order:expr, |$o:ident| $body:expr) => {
        match $order {
            0 => {
                const $o: u32 = 0;
                $body
            }
            1 => {
                const $o: u32 = 1;
                $body
            }
            2 => {
                const $o: u32 = 2;
                $body
            }
            3 => {
                const $o: u32 = 3;
                $body
            }
            4 => {
                const $o: u32 = 4;
                $body
            }
            5 => {
                const $o: u32 = 5;
                $body
            }
            6 => {
                const $o: u32 = 6;
                $body
            }
            7 => {
                const $o: u32 = 7;
                $body
            }
            8 => {
                const $o: u32 = 8;
                $body
            }
            9 => {
                const $o: u32 = 9;
                $body
            }
            10 => {
                const $o: u32 = 10;
                $body
            }
            o => panic!("benchmark order {o} is above MAX_PAGE_ORDER"),
        }
    };
}

/// The largest batch [`run`] takes with its default orders and threads:
/// every thread holds `batch` order-3 blocks at once on the default
/// machine, and this is a quarter of its pages over two threads of 8-page
/// blocks (the rest is the Movable zone, which `GFP_KERNEL` cannot use, the
/// watermarks and the per-CPU lists). Larger batches run out of memory.
pub const MAX_BATCH: usize = 1024;

/// What to measure.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BenchConfig {
    /// Orders to measure (0 and 3 by default; orders above `MAX_PAGE_ORDER`
    /// are not run).
    pub orders: Vec<u32>,
    /// Thread counts (1 and 2 by default).
    pub threads: Vec<usize>,
    /// Blocks per round (64; at most [`MAX_BATCH`] with the default orders
    /// and threads).
    pub batch: usize,
    /// Samples per configuration; the median is reported (5).
    pub samples: usize,
    /// Approximate pairs per thread per sample.
    pub pairs_per_sample: u64,
    /// Allocators to run (`gfp`, `gfp-bulk`, `free-stack`,
    /// `buddy_system_allocator`).
    pub allocators: Vec<String>,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            orders: std::vec![0, 3],
            threads: std::vec![1, 2],
            batch: 64,
            samples: 5,
            pairs_per_sample: 2_000_000,
            allocators: ALLOCATORS.iter().map(|s| String::from(*s)).collect(),
        }
    }
}

/// The allocators `run` knows: `gfp` is one `alloc_pages()` and one
/// `__free_pages()` call per block; `gfp-bulk` is this allocator's batch
/// interfaces, one `alloc_pages_bulk()` and one `free_pages_bulk()` call
/// per round of `batch` blocks.
pub const ALLOCATORS: [&str; 4] = ["gfp", "gfp-bulk", "free-stack", "buddy_system_allocator"];

/// One measurement.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct BenchResult {
    /// `gfp`, `gfp-bulk`, `free-stack` or `buddy_system_allocator`.
    pub allocator: String,
    /// The order of every block.
    pub order: u32,
    /// Threads running at once.
    pub threads: usize,
    /// Median over the samples of wall time / pairs completed by all threads.
    pub ns_per_pair: f64,
}

/// All measurements.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct BenchReport {
    /// One entry per allocator, order and thread count.
    pub results: Vec<BenchResult>,
}

impl BenchReport {
    /// The result for a configuration.
    pub fn get(&self, allocator: &str, order: u32, threads: usize) -> Option<f64> {
        self.results
            .iter()
            .find(|r| r.allocator == allocator && r.order == order && r.threads == threads)
            .map(|r| r.ns_per_pair)
    }
}

/// An allocator under test: runs `rounds` rounds on thread `thread`.
pub trait Contender: Sync {
    /// Runs the rounds: each allocates `batch` blocks of `order`, then frees
    /// them. `thread` is the thread's index among those running.
    fn run(&self, thread: usize, order: u32, batch: usize, rounds: u64);
}

/// This allocator on the default machine; thread `i` is bound to CPU `i`
/// (and so owns that CPU's per-CPU lists).
pub struct GfpContender {
    mm: Mm,
}

impl GfpContender {
    /// On the default machine.
    pub fn new() -> GfpContender {
        GfpContender::on(MachineSpec::default_machine())
    }

    /// On a machine of the caller's choice.
    pub fn on(spec: MachineSpec) -> GfpContender {
        GfpContender {
            mm: Mm::new(spec).expect("benchmark machine"),
        }
    }

    /// The runtime.
    pub fn mm(&self) -> &Mm {
        &self.mm
    }
}

impl Default for GfpContender {
    fn default() -> Self {
        GfpContender::new()
    }
}

impl GfpContender {
    /// The rounds with the order known at compile time, as at the kernel's
    /// call sites (`alloc_page()`, `alloc_pages(gfp, 3)`).
    fn rounds<const ORDER: u32>(&self, batch: usize, rounds: u64) {
        let mut pages: Vec<Page> = Vec::with_capacity(batch);
        for _ in 0..rounds {
            for _ in 0..batch {
                pages.push(
                    self.mm
                        .alloc_pages(Gfp::KERNEL, ORDER)
                        .expect("benchmark allocation"),
                );
            }
            for p in pages.drain(..).rev() {
                let _ = self.mm.free_pages(std::hint::black_box(p), ORDER);
            }
        }
    }
}

impl Contender for GfpContender {
    fn run(&self, thread: usize, order: u32, batch: usize, rounds: u64) {
        bind_current_thread(thread);
        with_order!(order, |O| self.rounds::<O>(batch, rounds))
    }
}

/// This allocator's batch interfaces on the default machine: a round is
/// one [`Mm::alloc_pages_bulk`] of `batch` blocks and one
/// [`Mm::free_pages_bulk`] of them; thread `i` is bound to CPU `i`.
pub struct GfpBulkContender {
    mm: Mm,
}

impl GfpBulkContender {
    /// On a machine of the caller's choice.
    pub fn on(spec: MachineSpec) -> GfpBulkContender {
        GfpBulkContender {
            mm: Mm::new(spec).expect("benchmark machine"),
        }
    }

    /// The runtime.
    pub fn mm(&self) -> &Mm {
        &self.mm
    }

    fn rounds<const ORDER: u32>(&self, batch: usize, rounds: u64) {
        let mut pages: Vec<Option<Page>> = std::vec![None; batch];
        for _ in 0..rounds {
            let got = self.mm.alloc_pages_bulk(Gfp::KERNEL, ORDER, &mut pages);
            assert_eq!(got, batch, "benchmark bulk allocation");
            // Freed last first, as the single-call contender frees them.
            let _ = self.mm.free_pages_bulk(
                std::hint::black_box(&mut pages)
                    .iter_mut()
                    .rev()
                    .filter_map(Option::take),
                ORDER,
            );
        }
    }
}

impl Contender for GfpBulkContender {
    fn run(&self, thread: usize, order: u32, batch: usize, rounds: u64) {
        bind_current_thread(thread);
        with_order!(order, |O| self.rounds::<O>(batch, rounds))
    }
}

/// A `Vec` of free block numbers per thread: pop to allocate, push to free.
pub struct FreeStack {
    blocks: usize,
}

impl FreeStack {
    /// Stacks of `blocks` blocks.
    pub fn new(blocks: usize) -> FreeStack {
        FreeStack { blocks }
    }
}

impl FreeStack {
    fn rounds<const ORDER: u32>(&self, batch: usize, rounds: u64) {
        let mut stack: Vec<usize> = (0..self.blocks).map(|b| b << ORDER).collect();
        let mut out: Vec<usize> = Vec::with_capacity(batch);
        for _ in 0..rounds {
            for _ in 0..batch {
                match stack.pop() {
                    Some(b) => out.push(b),
                    None => panic!("free stack exhausted"),
                }
            }
            for b in out.drain(..).rev() {
                stack.push(std::hint::black_box(b));
            }
        }
    }
}

impl Contender for FreeStack {
    fn run(&self, _thread: usize, order: u32, batch: usize, rounds: u64) {
        with_order!(order, |O| self.rounds::<O>(batch, rounds))
    }
}

/// `buddy_system_allocator::FrameAllocator` behind a mutex (shared by all
/// threads, as its `LockedFrameAllocator` is).
pub struct BuddyContender {
    inner: Mutex<buddy_system_allocator::FrameAllocator<33>>,
}

impl BuddyContender {
    /// With `pages` frames.
    pub fn new(pages: usize) -> BuddyContender {
        let mut fa = buddy_system_allocator::FrameAllocator::<33>::new();
        fa.add_frame(0, pages);
        BuddyContender {
            inner: Mutex::new(fa),
        }
    }
}

impl BuddyContender {
    fn rounds<const ORDER: u32>(&self, batch: usize, rounds: u64) {
        let n = 1usize << ORDER;
        let mut out: Vec<usize> = Vec::with_capacity(batch);
        for _ in 0..rounds {
            for _ in 0..batch {
                let f = self
                    .inner
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .alloc(n);
                out.push(f.expect("buddy allocation"));
            }
            for f in out.drain(..).rev() {
                self.inner
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .dealloc(std::hint::black_box(f), n);
            }
        }
    }
}

impl Contender for BuddyContender {
    fn run(&self, _thread: usize, order: u32, batch: usize, rounds: u64) {
        with_order!(order, |O| self.rounds::<O>(batch, rounds))
    }
}

/// Runs `threads` threads of `c` for `rounds` rounds each; returns the wall
/// time per pair in nanoseconds: from the first thread's start to the last
/// thread's end, each read by the worker itself right after the common
/// start barrier (a coordinating thread's clock would need a free core to
/// be read on time, and on a machine with as many cores as workers it
/// would start the clock late).
pub fn sample(c: &dyn Contender, order: u32, threads: usize, batch: usize, rounds: u64) -> f64 {
    let barrier = Barrier::new(threads);
    let spans: Vec<(Instant, Instant)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                s.spawn(move || {
                    c.run(t, order, batch, 1);
                    barrier.wait();
                    let start = Instant::now();
                    c.run(t, order, batch, rounds);
                    (start, Instant::now())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("benchmark thread"))
            .collect()
    });
    let start = spans
        .iter()
        .map(|s| s.0)
        .min()
        .expect("one thread at least");
    let end = spans
        .iter()
        .map(|s| s.1)
        .max()
        .expect("one thread at least");
    let pairs = threads as u64 * rounds * batch as u64;
    (end - start).as_nanos() as f64 / pairs as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Runs every configuration.
pub fn run(cfg: &BenchConfig) -> BenchReport {
    let spec = MachineSpec::default_machine();
    let pages = spec.total_pages() as usize;
    let mut report = BenchReport::default();
    for name in &cfg.allocators {
        let contender: Box<dyn Contender> = match name.as_str() {
            "gfp" => Box::new(GfpContender::on(spec.clone())),
            "gfp-bulk" => Box::new(GfpBulkContender::on(spec.clone())),
            "free-stack" => Box::new(FreeStack::new(cfg.batch * 4)),
            "buddy_system_allocator" => Box::new(BuddyContender::new(pages)),
            _ => continue,
        };
        for &order in cfg
            .orders
            .iter()
            .filter(|&&o| o <= gfp::zone::MAX_PAGE_ORDER)
        {
            for &threads in &cfg.threads {
                let rounds = (cfg.pairs_per_sample / cfg.batch as u64).max(1);
                let samples: Vec<f64> = (0..cfg.samples.max(1))
                    .map(|_| sample(&*contender, order, threads, cfg.batch, rounds))
                    .collect();
                report.results.push(BenchResult {
                    allocator: name.clone(),
                    order,
                    threads,
                    ns_per_pair: median(samples),
                });
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_allocator_reports_each_configuration() {
        let cfg = BenchConfig {
            orders: std::vec![0, 3],
            threads: std::vec![1, 2],
            samples: 1,
            pairs_per_sample: 640,
            ..BenchConfig::default()
        };
        let r = run(&cfg);
        assert_eq!(r.results.len(), ALLOCATORS.len() * 2 * 2);
        for a in ALLOCATORS {
            for order in [0, 3] {
                for threads in [1, 2] {
                    let ns = r.get(a, order, threads).expect("a row");
                    assert!(ns.is_finite() && ns > 0.0, "{a} {order} {threads}: {ns}");
                }
            }
        }
    }

    /// The largest batch `gfp bench` accepts runs on the default machine
    /// for every allocator, order 3 and two threads included.
    #[test]
    fn max_batch_fits_the_default_machine() {
        let spec = MachineSpec::default_machine();
        assert_eq!(
            MAX_BATCH as u64,
            spec.total_pages() / (2 * 8) / 4,
            "a quarter of the machine over two threads of order-3 blocks"
        );
        let cfg = BenchConfig {
            samples: 1,
            pairs_per_sample: 1,
            batch: MAX_BATCH,
            ..BenchConfig::default()
        };
        assert_eq!(run(&cfg).results.len(), ALLOCATORS.len() * 2 * 2);
    }
}
