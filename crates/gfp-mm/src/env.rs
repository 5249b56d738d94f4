//! The environment: every point where the allocator would block, wake
//! someone, read the clock, start I/O or print. The core never does any of
//! that itself; the `std` runtime implements it with threads and real time,
//! a simulator with virtual time ([`VirtualEnv`] is a minimal one).

use alloc::string::String;
use alloc::vec::Vec;

use gfp::zone::ZoneType;

use crate::nodemask::NodeId;
use crate::sync::{AtomicU64, Ordering, SpinLock};

/// Clock ticks per second (`HZ`), for the kernel's tick-based timeouts.
pub const HZ: u64 = 250;
/// One tick in nanoseconds.
pub const TICK_NS: u64 = 1_000_000_000 / HZ;

/// Severity of a log line (the kernel's `KERN_*` levels that the allocator uses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// `KERN_ALERT`: bad page state.
    Alert,
    /// `KERN_ERR`: the OOM killer's `Killed process` line.
    Err,
    /// `KERN_WARNING`: allocation failures, `WARN_ON_ONCE`, the OOM
    /// report's header, and the memory summary (`show_mem()` prints at the
    /// default level, which is `KERN_WARNING`).
    Warning,
    /// `KERN_INFO`: the OOM report's task table, victim summary, memory
    /// cgroup figures and the reaper's line.
    Info,
}

/// Something a task can wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WaitEvent {
    /// Pages were freed to a node.
    FreePages(NodeId),
    /// kswapd of a node finished a round.
    KswapdDone(NodeId),
    /// The OOM lock was released.
    OomLock,
    /// An element was returned to the mempool with this id.
    PoolElement(u64),
}

/// An I/O request the allocator's reclaim would start (used by the next
/// layer; the allocator itself starts none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoRequest {
    /// Node whose pages are written or read.
    pub nid: NodeId,
    /// Number of pages.
    pub pages: u64,
    /// Write (true) or read.
    pub write: bool,
}

/// Blocking points, the clock and the log sink.
pub trait Environment {
    /// Monotonic time in nanoseconds.
    fn now_ns(&self) -> u64;
    /// `cond_resched()`: a point where the task may be preempted.
    fn cond_resched(&self) {}
    /// `schedule_timeout_uninterruptible()`: sleeps `ns` nanoseconds.
    fn sleep_ns(&self, ns: u64);
    /// Waits for `event` or `timeout_ns`; `true` if the event happened.
    fn wait_for_event(&self, event: WaitEvent, timeout_ns: u64) -> bool {
        let _ = event;
        self.sleep_ns(timeout_ns);
        false
    }
    /// Wakes the waiters of `event`.
    fn notify(&self, event: WaitEvent) {
        let _ = event;
    }
    /// Wakes kswapd of node `nid` for an allocation of `order` that may use
    /// zones up to `highest_zone` (`wakeup_kswapd()`).
    fn wake_kswapd(&self, nid: NodeId, order: u32, highest_zone: ZoneType);
    /// Starts I/O (reclaim writeback, swap); completion is reported through
    /// [`Environment::notify`].
    fn start_io(&self, io: IoRequest) {
        let _ = io;
    }
    /// Whether the swap device fails the write of one page of node `nid`
    /// (an injected device error). Reclaim asks before it lets the page go:
    /// a failed write leaves the page in memory, as `end_swap_bio_write()`
    /// re-dirties it. The default device never fails.
    fn swap_write_fails(&self, nid: NodeId) -> bool {
        let _ = nid;
        false
    }
    /// Whether the filesystem's block device fails the writeback of one
    /// dirty page-cache page of node `nid`. The page is cleaned either way
    /// (the kernel records the error in the mapping, `mapping_set_error()`,
    /// and does not redirty); the environment keeps the error for whoever
    /// asks the mapping. The default device never fails.
    fn writeback_fails(&self, nid: NodeId) -> bool {
        let _ = nid;
        false
    }
    /// One line of kernel log (no trailing newline).
    fn log(&self, level: LogLevel, line: &str);
    /// The name of the running task, when the [`crate::Task`] has none.
    fn current_comm(&self) -> String {
        String::from("task")
    }
}

/// A deterministic environment with virtual time: sleeping advances the
/// clock, kswapd wake-ups are counted, log lines are kept. Usable without
/// `std`; the simulator's starting point.
pub struct VirtualEnv {
    now: AtomicU64,
    kswapd_wakeups: AtomicU64,
    lines: SpinLock<Vec<(LogLevel, String)>>,
}

impl core::fmt::Debug for VirtualEnv {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VirtualEnv")
            .field("now_ns", &self.now_ns())
            .finish()
    }
}

impl VirtualEnv {
    /// Time 0, no log.
    pub fn new() -> VirtualEnv {
        VirtualEnv {
            now: AtomicU64::new(0),
            kswapd_wakeups: AtomicU64::new(0),
            lines: SpinLock::new(Vec::new()),
        }
    }

    /// Moves the clock forward.
    #[inline]
    pub fn advance(&self, ns: u64) {
        self.now.fetch_add(ns, Ordering::Relaxed);
    }

    /// How often kswapd was woken.
    #[inline]
    pub fn kswapd_wakeups(&self) -> u64 {
        self.kswapd_wakeups.load(Ordering::Relaxed)
    }

    /// The log so far.
    pub fn log_lines(&self) -> Vec<(LogLevel, String)> {
        self.lines.lock().clone()
    }

    /// The log so far as one text.
    pub fn log_text(&self) -> String {
        let mut s = String::new();
        for (_, l) in self.lines.lock().iter() {
            s.push_str(l);
            s.push('\n');
        }
        s
    }

    /// Forgets the log.
    pub fn clear_log(&self) {
        self.lines.lock().clear();
    }
}

impl Default for VirtualEnv {
    fn default() -> Self {
        VirtualEnv::new()
    }
}

impl Environment for VirtualEnv {
    #[inline]
    fn now_ns(&self) -> u64 {
        self.now.load(Ordering::Relaxed)
    }
    fn sleep_ns(&self, ns: u64) {
        self.advance(ns);
    }
    fn cond_resched(&self) {
        self.advance(1_000);
    }
    fn wake_kswapd(&self, _nid: NodeId, _order: u32, _highest_zone: ZoneType) {
        self.kswapd_wakeups.fetch_add(1, Ordering::Relaxed);
    }
    fn log(&self, level: LogLevel, line: &str) {
        self.lines.lock().push((level, line.into()));
    }
}
