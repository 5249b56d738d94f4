//! The `std` runtime: a [`Machine`] with real threads, real time and the
//! kernel's entry points. Each call reads the calling thread's scopes
//! (`gfp::scope::current_state()`, i.e. `current_gfp_context()`) and runs on
//! the thread's CPU (threads are spread over the machine's CPUs round-robin
//! unless bound with [`bind_current_thread`]).

use std::boxed::Box;
use std::string::String;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};
use std::vec::Vec;

use gfp::zone::ZoneType;
use gfp::Gfp;

use crate::env::{Environment, LogLevel, WaitEvent};
use crate::hooks::{NoProgress, SlowPathHooks};
use crate::machine::{Cx, Machine, MachineError};
use crate::nodemask::{NodeId, NodeMask};
use crate::page::{AllocError, BadPage, Page};
use crate::spec::MachineSpec;
use crate::sync::THREAD;
use crate::task::Task;

/// Where log lines go.
pub trait LogSink: Send + Sync {
    /// Writes one line.
    fn log(&self, level: LogLevel, line: &str);
}

/// Prints to standard error.
#[derive(Clone, Copy, Debug, Default)]
pub struct StderrSink;

impl LogSink for StderrSink {
    fn log(&self, _level: LogLevel, line: &str) {
        std::eprintln!("{line}");
    }
}

/// Keeps lines in memory (for tests and the CLI).
#[derive(Debug, Default)]
pub struct MemorySink {
    lines: Mutex<Vec<(LogLevel, String)>>,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> MemorySink {
        MemorySink::default()
    }

    /// The lines so far.
    pub fn lines(&self) -> Vec<(LogLevel, String)> {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The lines so far as text.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for (_, l) in self.lines() {
            s.push_str(&l);
            s.push('\n');
        }
        s
    }

    /// Forgets the lines.
    pub fn clear(&self) {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

impl LogSink for MemorySink {
    fn log(&self, level: LogLevel, line: &str) {
        self.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((level, line.into()));
    }
}

impl<T: LogSink + ?Sized> LogSink for std::sync::Arc<T> {
    fn log(&self, level: LogLevel, line: &str) {
        (**self).log(level, line)
    }
}

/// The environment of real threads: a monotonic clock, `thread::sleep`,
/// condition variables for wake-ups, kswapd wake-ups counted per node (the
/// next layer's kswapd threads wait on them), and a log sink.
pub struct StdEnv {
    start: Instant,
    sink: Box<dyn LogSink>,
    kswapd: Vec<AtomicU64>,
    generation: Mutex<u64>,
    wakeup: Condvar,
}

impl std::fmt::Debug for StdEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StdEnv")
            .field("start", &self.start)
            .finish()
    }
}

impl StdEnv {
    /// An environment for `nodes` nodes logging to `sink`.
    pub fn new(nodes: usize, sink: Box<dyn LogSink>) -> StdEnv {
        StdEnv {
            start: Instant::now(),
            sink,
            kswapd: (0..nodes).map(|_| AtomicU64::new(0)).collect(),
            generation: Mutex::new(0),
            wakeup: Condvar::new(),
        }
    }

    /// How often kswapd of `nid` was woken.
    pub fn kswapd_wakeups(&self, nid: NodeId) -> u64 {
        self.kswapd
            .get(nid)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    fn bump(&self) {
        *self.generation.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.wakeup.notify_all();
    }
}

impl Environment for StdEnv {
    fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }
    fn cond_resched(&self) {
        std::thread::yield_now();
    }
    fn sleep_ns(&self, ns: u64) {
        std::thread::sleep(Duration::from_nanos(ns));
    }
    fn wait_for_event(&self, _event: WaitEvent, timeout_ns: u64) -> bool {
        let g = self.generation.lock().unwrap_or_else(|e| e.into_inner());
        let start = *g;
        let (g, _) = self
            .wakeup
            .wait_timeout_while(g, Duration::from_nanos(timeout_ns), |gen| *gen == start)
            .unwrap_or_else(|e| e.into_inner());
        *g != start
    }
    fn notify(&self, _event: WaitEvent) {
        self.bump();
    }
    fn wake_kswapd(&self, nid: NodeId, _order: u32, _highest_zone: ZoneType) {
        if let Some(c) = self.kswapd.get(nid) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        self.bump();
    }
    fn log(&self, level: LogLevel, line: &str) {
        self.sink.log(level, line);
    }
    fn current_comm(&self) -> String {
        let t = std::thread::current();
        match t.name() {
            Some(n) => n.chars().take(15).collect(),
            None => String::from("thread"),
        }
    }
}

static NEXT_THREAD: AtomicUsize = AtomicUsize::new(0);

/// Binds the calling thread to CPU `cpu` (taken modulo each machine's CPU
/// count), like `sched_setaffinity` to one CPU.
///
/// A bound thread owns its CPU's per-CPU lists (of every machine it uses)
/// while it stays bound: it takes and puts pages there without atomic
/// read-modify-writes; other threads and drains wait it out (see the
/// `sync` module). Rebinding, or the thread's exit, gives the lists up.
pub fn bind_current_thread(cpu: usize) {
    if THREAD.with(|t| t.set_cpu(cpu)) == cpu && crate::sync::bound_as_owner() {
        return;
    }
    crate::sync::bind_current_thread_owner();
}

/// Makes the calling thread eligible to own per-CPU lists, like
/// [`bind_current_thread`] but without choosing a CPU for it (this
/// module's entry points spread it over the CPUs as before). Every CPU's
/// lists that it enters afterwards, of any machine, while they have no
/// live owner, become its own: it then takes and puts pages there with
/// plain stores instead of a lock's compare-and-swap.
///
/// For a thread that is the only user of its machines, as a simulator
/// driving all of a machine's CPUs from one thread is. Another thread may
/// still enter those lists; while the owner lives, each such entry waits
/// it out with a process-wide barrier (see the `sync` module), which is
/// correct but slow. Does nothing if the thread is bound already, or if
/// the barrier is unavailable (then every entry takes the lock, as
/// before).
pub fn own_per_cpu_lists() {
    if !crate::sync::bound_as_owner() {
        crate::sync::bind_current_thread_owner();
    }
}

#[inline(always)]
fn current_cpu(nr_cpus: usize) -> usize {
    let v = THREAD.with(|t| t.cpu.get());
    // Unassigned threads hold usize::MAX, so one compare covers both.
    if v < nr_cpus {
        v
    } else {
        current_cpu_slow(nr_cpus)
    }
}

#[cold]
fn current_cpu_slow(nr_cpus: usize) -> usize {
    THREAD.with(|t| {
        let mut v = t.cpu.get();
        if v == usize::MAX {
            v = NEXT_THREAD.fetch_add(1, Ordering::Relaxed);
            t.set_cpu(v);
        }
        v % nr_cpus
    })
}

/// A machine with the `std` environment and hooks, and the kernel's entry
/// points for the calling thread.
pub struct Mm {
    machine: Machine,
    env: StdEnv,
    hooks: Box<dyn SlowPathHooks + Send + Sync>,
}

impl std::fmt::Debug for Mm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mm")
            .field("machine", &self.machine)
            .finish()
    }
}

impl Mm {
    /// The machine with `mmap`ed memory, no-progress hooks, logging to
    /// standard error.
    pub fn new(spec: MachineSpec) -> Result<Mm, MachineError> {
        Mm::with(spec, Box::new(StderrSink), Box::new(NoProgress))
    }

    /// The machine with a log sink and hooks of the caller's choice.
    pub fn with(
        spec: MachineSpec,
        sink: Box<dyn LogSink>,
        hooks: Box<dyn SlowPathHooks + Send + Sync>,
    ) -> Result<Mm, MachineError> {
        let nodes = spec.nodes.len();
        let machine = Machine::new(spec)?;
        Ok(Mm {
            machine,
            env: StdEnv::new(nodes, sink),
            hooks,
        })
    }

    /// The built-in default machine (see [`MachineSpec::default_machine`]).
    pub fn default_machine() -> Result<Mm, MachineError> {
        Mm::new(MachineSpec::default_machine())
    }

    /// The machine.
    pub fn machine(&self) -> &Machine {
        &self.machine
    }

    /// The environment.
    pub fn env(&self) -> &StdEnv {
        &self.env
    }

    /// The CPU the calling thread runs on.
    pub fn current_cpu(&self) -> usize {
        current_cpu(self.machine.nr_cpus())
    }

    /// A call context for `task` on the calling thread's CPU, to use the
    /// core API with an explicit task (cpuset, OOM victim, interrupt...).
    pub fn cx<'a>(&'a self, task: Task<'a>) -> Cx<'a> {
        Cx::new(self.current_cpu(), task, &self.env, &*self.hooks)
    }

    /// The calling thread as a task: its scopes, the root cpuset.
    #[inline(always)]
    pub fn current_task(&self) -> Task<'static> {
        Task::new().with_scope(gfp::scope::current_state())
    }

    #[inline(always)]
    fn current_cx(&self) -> Cx<'_> {
        Cx {
            cpu: current_cpu(self.machine.nr_cpus()),
            task: self.current_task(),
            env: &self.env,
            hooks: &*self.hooks,
        }
    }

    /// `alloc_pages(gfp, order)`.
    ///
    /// Inlined into the caller, like the kernel's: the common case needs
    /// only the scopes and the CPU and, with a constant order, folds to a
    /// few loads, one pop and one store; the full context is built when the
    /// general path runs.
    #[inline(always)]
    pub fn alloc_pages(&self, gfp: Gfp, order: u32) -> Result<Page, AllocError> {
        if crate::pcp::pcp_allowed_order(order) {
            let scope = gfp::scope::current_state();
            // A thread whose number is not one of this machine's CPUs (not
            // bound, or bound beyond them) takes the general path, which
            // picks its CPU and tries the fast path there.
            // The thread's word: its CPU number in the low half, and as a
            // whole what the CPU's lists record as their owner if it is.
            let me = crate::sync::thread_word();
            if let Some(slot) = self.machine.cpu_slot(me as u32 as usize) {
                if let Some(pfn) = self
                    .machine
                    .alloc_fast_on(slot, me, scope.apply(gfp), order)
                {
                    return Ok(Page::from_raw(self.machine.id(), pfn));
                }
            }
        }
        self.alloc_pages_general(gfp, order)
    }

    #[cold]
    #[inline(never)]
    fn alloc_pages_general(&self, gfp: Gfp, order: u32) -> Result<Page, AllocError> {
        self.machine.alloc_pages(&self.current_cx(), gfp, order)
    }

    /// `alloc_page(gfp)`.
    pub fn alloc_page(&self, gfp: Gfp) -> Result<Page, AllocError> {
        self.alloc_pages(gfp, 0)
    }

    /// `alloc_pages_node(nid, gfp, order)`.
    pub fn alloc_pages_node(&self, nid: NodeId, gfp: Gfp, order: u32) -> Result<Page, AllocError> {
        self.machine
            .alloc_pages_node(&self.current_cx(), nid, gfp, order)
    }

    /// `__alloc_pages(gfp, order, preferred_nid, nodemask)`.
    pub fn alloc_pages_nodemask(
        &self,
        gfp: Gfp,
        order: u32,
        preferred_nid: Option<NodeId>,
        nodemask: Option<NodeMask>,
    ) -> Result<Page, AllocError> {
        self.machine
            .alloc_pages_nodemask(&self.current_cx(), gfp, order, preferred_nid, nodemask)
    }

    /// `alloc_pages_bulk_array(gfp, nr, pages)`: fills the empty entries of
    /// `pages` with blocks of `order` from this CPU's lists; how many
    /// leading entries are filled (see [`Machine::alloc_pages_bulk`]).
    pub fn alloc_pages_bulk(&self, gfp: Gfp, order: u32, pages: &mut [Option<Page>]) -> usize {
        self.machine
            .alloc_pages_bulk(&self.current_cx(), gfp, order, pages)
    }

    /// Frees `pages`, blocks of `order`, entering this CPU's lists once
    /// (see [`Machine::free_pages_bulk`]).
    pub fn free_pages_bulk<I>(&self, pages: I, order: u32) -> Result<(), BadPage>
    where
        I: IntoIterator<Item = Page>,
    {
        self.machine
            .free_pages_bulk(&self.current_cx(), pages, order)
    }

    /// `get_zeroed_page(gfp)`.
    pub fn get_zeroed_page(&self, gfp: Gfp) -> Result<Page, AllocError> {
        self.machine.get_zeroed_page(&self.current_cx(), gfp)
    }

    /// `folio_alloc(gfp, order)`: a compound page.
    pub fn folio_alloc(&self, gfp: Gfp, order: u32) -> Result<Page, AllocError> {
        self.machine.folio_alloc(&self.current_cx(), gfp, order)
    }

    /// `__free_pages(page, order)`; inlined into the caller as
    /// [`Mm::alloc_pages`] is.
    #[inline(always)]
    pub fn free_pages(&self, page: Page, order: u32) -> Result<(), BadPage> {
        // As in `alloc_pages`: one check of the thread's CPU number.
        let me = crate::sync::thread_word();
        if let Some(slot) = self.machine.cpu_slot(me as u32 as usize) {
            if self.machine.free_fast_on(slot, me, page, order) {
                return Ok(());
            }
        }
        self.free_pages_general(page, order)
    }

    #[cold]
    #[inline(never)]
    fn free_pages_general(&self, page: Page, order: u32) -> Result<(), BadPage> {
        self.machine.free_pages(&self.current_cx(), page, order)
    }

    /// `free_page(page)`.
    pub fn free_page(&self, page: Page) -> Result<(), BadPage> {
        self.free_pages(page, 0)
    }

    /// `folio_put(page)`: frees a compound page by its head.
    pub fn folio_put(&self, page: Page) -> Result<(), BadPage> {
        self.machine.folio_put(&self.current_cx(), page)
    }

    /// Marks a page dirty (see [`Machine::set_page_dirty`]).
    pub fn set_page_dirty(&self, page: Page) -> Result<bool, BadPage> {
        self.machine.set_page_dirty(&self.current_cx(), page)
    }

    /// Clears a page's dirty mark.
    pub fn clear_page_dirty(&self, page: Page) -> Result<bool, BadPage> {
        self.machine.clear_page_dirty(&self.current_cx(), page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A two-party barrier that a panicking party breaks: the other party's
    /// wait then panics too, so a failed assertion fails the test instead
    /// of leaving its partner waiting forever.
    struct Barrier {
        state: std::sync::Mutex<(usize, u64, bool)>,
        cv: std::sync::Condvar,
        parties: usize,
    }

    /// Breaks the barrier when its thread unwinds.
    struct BreakOnPanic<'a>(&'a Barrier);

    impl Drop for BreakOnPanic<'_> {
        fn drop(&mut self) {
            if std::thread::panicking() {
                let mut st = self.0.state.lock().unwrap_or_else(|e| e.into_inner());
                st.2 = true;
                self.0.cv.notify_all();
            }
        }
    }

    impl Barrier {
        fn new(parties: usize) -> Barrier {
            Barrier {
                state: std::sync::Mutex::new((0, 0, false)),
                cv: std::sync::Condvar::new(),
                parties,
            }
        }

        fn wait(&self) {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            assert!(!st.2, "the other party panicked");
            let generation = st.1;
            st.0 += 1;
            if st.0 == self.parties {
                st.0 = 0;
                st.1 += 1;
                self.cv.notify_all();
                return;
            }
            while st.1 == generation {
                st = self.cv.wait(st).unwrap_or_else(|e| e.into_inner());
                assert!(!st.2, "the other party panicked");
            }
        }
    }

    fn mm() -> Mm {
        Mm::with(
            MachineSpec::test_64mib(),
            Box::new(MemorySink::new()),
            Box::new(NoProgress),
        )
        .unwrap()
    }

    /// Bound threads own their CPUs' lists; an unbound thread on the same
    /// CPUs, cross-CPU frees, drains and counter reads all go through the
    /// lock and wait the owners out; racing double frees by two owners free
    /// once; owners that exit give their lists up to the next bound thread.
    ///
    /// A second free is refused only while its page stays free: once
    /// another allocation has taken the page again, a stale handle's free
    /// is indistinguishable from the new holder's (the handle carries no
    /// generation; nor does the kernel's `struct page *`), and the new
    /// holder's own free then finds the page free. So the unbound thread
    /// allocates nothing from the first free of a shared page to the last
    /// of its frees (`gate`); its frees, drains and reads go on meanwhile.
    #[test]
    fn bound_owners_and_remote_access() {
        let mm = mm();
        let m = mm.machine();
        let rounds = if cfg!(debug_assertions) { 300 } else { 3000 };
        for generation in 0..2 {
            let handoff = std::sync::Mutex::new(Vec::<Page>::new());
            let barrier = Barrier::new(2);
            let shared = std::sync::Mutex::new(None::<Page>);
            let wins = AtomicUsize::new(0);
            let gate = std::sync::Mutex::new(());
            std::thread::scope(|s| {
                for t in 0..2usize {
                    let (mm, handoff, barrier, shared, wins, gate) =
                        (&mm, &handoff, &barrier, &shared, &wins, &gate);
                    s.spawn(move || {
                        let _break = BreakOnPanic(barrier);
                        bind_current_thread(t);
                        let _ = mm.alloc_pages(Gfp::KERNEL, 0).map(|p| mm.free_pages(p, 0));
                        #[cfg(not(feature = "shuttle"))]
                        assert!(mm.machine().cpus[t].pcp.has_owner());
                        let mut mine = Vec::new();
                        for i in 0..rounds {
                            let order = [0, 0, 0, 1, 3][i % 5];
                            mine.push((mm.alloc_pages(Gfp::KERNEL, order).unwrap(), order));
                            if i % 3 == 0 {
                                let (p, o) = mine.swap_remove(i % mine.len());
                                if o == 0 && i % 2 == 0 {
                                    handoff.lock().unwrap().push(p);
                                } else {
                                    mm.free_pages(p, o).unwrap();
                                }
                            }
                            if i % 50 == 0 {
                                let theirs: Vec<_> = handoff.lock().unwrap().drain(..).collect();
                                for p in theirs {
                                    mm.free_pages(p, 0).unwrap();
                                }
                                // Racing double frees between the two owners,
                                // with the unbound thread's allocations held
                                // off until both have freed twice.
                                let window = (t == 0).then(|| {
                                    let g = gate.lock().unwrap();
                                    *shared.lock().unwrap() =
                                        Some(mm.alloc_pages(Gfp::KERNEL, 0).unwrap());
                                    g
                                });
                                barrier.wait();
                                let p = shared.lock().unwrap().unwrap();
                                if mm.free_pages(p, 0).is_ok() {
                                    wins.fetch_add(1, Ordering::Relaxed);
                                }
                                assert!(mm.free_pages(p, 0).is_err());
                                barrier.wait();
                                drop(window);
                            }
                        }
                        for (p, o) in mine {
                            mm.free_pages(p, o).unwrap();
                        }
                    });
                }
                // An unbound thread on CPU 0's lists, draining and reading.
                s.spawn(|| {
                    let cx = mm.cx(Task::new());
                    for i in 0..rounds / 4 {
                        let p = {
                            let _gate = gate.lock().unwrap();
                            m.alloc_pages(&Cx { cpu: i % 2, ..cx }, Gfp::KERNEL, 0)
                                .unwrap()
                        };
                        m.free_pages(
                            &Cx {
                                cpu: (i + 1) % 2,
                                ..cx
                            },
                            p,
                            0,
                        )
                        .unwrap();
                        if i % 64 == 0 {
                            m.drain_all_pages();
                            let _ = m.vmstat();
                            let _ = m.zoneinfo();
                        }
                    }
                });
            });
            assert_eq!(
                wins.into_inner(),
                rounds.div_ceil(50),
                "generation {generation}"
            );
            for p in handoff.into_inner().unwrap() {
                mm.free_pages(p, 0).unwrap();
            }
            let c = m.check_invariants().unwrap();
            assert_eq!(c.allocated, 0);
        }
        m.drain_all_pages();
        let c = m.check_invariants().unwrap();
        assert_eq!(c.free_buddy, c.total);
    }
}
