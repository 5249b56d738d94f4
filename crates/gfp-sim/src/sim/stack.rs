//! Each task's kernel stack: where its calls into the allocator run.
//!
//! A kernel task that blocks deep inside the allocator (a reclaim
//! throttle, a wait for swap-out or writeback I/O, a lock its reclaim
//! needs, a mempool wait) sleeps in `schedule()` with its whole call chain
//! on its stack, and carries on from there when it wakes. The simulator
//! does the same: every call a task makes into gfp-mm runs on the task's
//! own stack (a stackful coroutine, [`corosensei`]), and each blocking
//! point of the [`Environment`](gfp_mm::Environment) suspends it with a
//! [`Block`] that says what it waits for. The scheduler then runs other
//! tasks (or kswapd, which has its own stack) and resumes the call when
//! its wait is over: reclaim's progress, the retry counters of the slow
//! path and the watchdog all carry on, nothing starts again from the top.
//!
//! Everything stays on the simulator's one thread, so a run is as
//! deterministic as before: the coroutines only decide *where* the CPU
//! goes at each blocking point, and the seeded scheduler decides *who*.
//!
//! # Invariants
//!
//! [`CURRENT`] points at the [`Yielder`] of the coroutine running on this
//! thread, or is null on the simulator's own stack. A coroutine body sets
//! it when it starts and again each time [`block`] returns (other
//! coroutines ran meanwhile), and [`KernelStack::resume`] restores the
//! value it found once `resume` returns or unwinds. So a non-null value
//! read on a coroutine's stack is always that coroutine's own yielder,
//! which lives as long as the coroutine body runs.

use std::cell::{Cell, RefCell};
use std::panic::Location;
use std::rc::Rc;
use std::sync::Arc;

use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult, Yielder};
use gfp::Gfp;
use gfp_mm::mempool::Mempool;
use gfp_mm::slab::{Obj, Slab, SlabError};
use gfp_mm::{AllocError, Cx, Machine, NodeId, Page, Task, Vm};

use super::reclaim::Blocked;
use super::SimEnv;

/// Bytes of each kernel stack. Only the pages a call touches are ever
/// backed (the stack is a lazily committed mapping); this leaves room for
/// reclaim reaching the filesystem and allocating again, in debug builds.
const STACK_BYTES: usize = 1 << 20;

/// What a blocked call waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Block {
    /// `schedule_timeout()` for this many nanoseconds of virtual time (a
    /// reclaim throttle, an I/O wait, a retry's back-off).
    Sleep(u64),
    /// `cond_resched()`: the CPU may go to any runnable task, this one
    /// included.
    Resched,
    /// A reclaim path wants a lock that a task holds (possibly the caller
    /// itself: a deadlock).
    Lock(Blocked),
    /// `mempool_alloc()` waits for an element of pool `id` to come back, at
    /// most `timeout_ns`.
    Pool {
        /// The pool's wait event id.
        id: u64,
        /// The wait's timeout.
        timeout_ns: u64,
    },
}

/// A call into the allocator that a task (or kswapd) makes.
pub(super) enum Call {
    /// `alloc_pages()`, or `alloc_pages_node()` with a node.
    Alloc {
        mask: Gfp,
        order: u32,
        node: Option<NodeId>,
    },
    /// `mempool_alloc()`.
    Mempool { pool: Rc<Mempool>, mask: Gfp },
    /// `kmalloc()`.
    Kmalloc {
        slab: Rc<Slab>,
        size: usize,
        mask: Gfp,
    },
    /// One kswapd run on a node (`balance_pgdat()`).
    Kswapd(NodeId),
}

/// What a finished [`Call`] returned.
pub(super) enum Answer {
    Page(Result<Page, AllocError>),
    Pool(Option<Page>),
    Obj(Result<Obj, SlabError>),
    Kswapd,
}

/// Where a call stands after the scheduler gave it the CPU.
pub(super) enum Step {
    /// It blocked: resume it with [`KernelStack::wake`] once the wait is
    /// over.
    Blocked(Block),
    /// It returned.
    Done(Answer),
}

/// What the scheduler hands a coroutine when it resumes it.
enum Resume {
    /// Run a call as this task.
    Start(Call, Task<'static>),
    /// The wait is over; `true` if the event came (not the timeout).
    Wake(bool),
    /// Return: the stack goes back to the pool.
    Exit,
}

type Body = Coroutine<Resume, Step, (), DefaultStack>;

std::thread_local! {
    /// The running coroutine's yielder (see the module's invariants).
    static CURRENT: Cell<*const Yielder<Resume, Step>> = const { Cell::new(std::ptr::null()) };
    /// Stacks of finished simulations, reused: a verify run makes many
    /// small simulations, and mapping a stack costs system calls.
    static SPARE: RefCell<Vec<DefaultStack>> = const { RefCell::new(Vec::new()) };
}

/// Suspends the running call until the scheduler ends the wait `b`.
/// Returns whether the awaited event came (for [`Block::Pool`]), or `None`
/// on the simulator's own stack, where nothing can be suspended: the
/// caller then waits in place.
#[allow(unsafe_code)]
pub(super) fn block(b: Block) -> Option<bool> {
    let y = CURRENT.get();
    if y.is_null() {
        return None;
    }
    // SAFETY: a non-null CURRENT read here, on a coroutine's stack, is that
    // coroutine's own yielder (module invariants), alive while its body runs.
    let woken = match unsafe { &*y }.suspend(Step::Blocked(b)) {
        Resume::Wake(woken) => woken,
        // The scheduler only wakes a blocked call (see `KernelStack`).
        Resume::Start(..) | Resume::Exit => false,
    };
    CURRENT.set(y);
    Some(woken)
}

/// A task's kernel stack, with the call it runs, if any.
pub(super) struct KernelStack {
    body: Option<Body>,
    /// A call is suspended on it.
    busy: bool,
}

/// What a kernel stack's calls run against: the simulation's machine,
/// memory manager and environment.
#[derive(Clone)]
pub(super) struct Kernel {
    pub(super) machine: Rc<Machine>,
    pub(super) vm: Arc<Vm>,
    pub(super) env: Rc<SimEnv>,
}

impl KernelStack {
    /// A stack whose calls run as task `comm` against `kernel`.
    pub(super) fn new(kernel: Kernel, comm: Rc<str>) -> KernelStack {
        let stack = SPARE
            .with(|s| s.borrow_mut().pop())
            .map_or_else(|| DefaultStack::new(STACK_BYTES), Ok)
            .expect("mapping a simulated task's stack failed: out of address space");
        let body = Coroutine::with_stack(stack, move |y: &Yielder<Resume, Step>, first| {
            let mut input = first;
            loop {
                CURRENT.set(y);
                let Resume::Start(call, task) = input else {
                    return;
                };
                let task = Task {
                    comm: Some(&comm),
                    ..task
                };
                let answer = run(&kernel, call, task);
                input = y.suspend(Step::Done(answer));
            }
        });
        KernelStack {
            body: Some(body),
            busy: false,
        }
    }

    /// A call is suspended on the stack.
    pub(super) fn busy(&self) -> bool {
        self.busy
    }

    /// Runs `call` as `task` until it blocks or returns. A panic (the
    /// stall watchdog's unwind) propagates; the stack is then spent and
    /// the next call gets a fresh one.
    pub(super) fn start(&mut self, call: Call, task: Task<'static>) -> Step {
        debug_assert!(!self.busy, "a call is already running on this stack");
        self.resume(Resume::Start(call, task))
    }

    /// Resumes the suspended call; `woken` answers a [`Block::Pool`] wait.
    pub(super) fn wake(&mut self, woken: bool) -> Step {
        debug_assert!(self.busy, "no call to wake");
        self.resume(Resume::Wake(woken))
    }

    fn resume(&mut self, input: Resume) -> Step {
        struct Restore(*const Yielder<Resume, Step>);
        impl Drop for Restore {
            fn drop(&mut self) {
                CURRENT.set(self.0);
            }
        }
        let _restore = Restore(CURRENT.get());
        let body = self.body.as_mut().expect("a spent stack is replaced");
        // A panic leaves `busy` set and the body finished: `Drop` and
        // `spent` see that.
        self.busy = true;
        let step = match body.resume(input) {
            CoroutineResult::Yield(step) => step,
            CoroutineResult::Return(()) => unreachable!("only Exit returns"),
        };
        self.busy = matches!(step, Step::Blocked(_));
        step
    }

    /// The stack's body ended by a panic (the watchdog): no call can run
    /// on it any more.
    pub(super) fn spent(&self) -> bool {
        self.body.as_ref().is_none_or(|b| b.done())
    }
}

impl Drop for KernelStack {
    fn drop(&mut self) {
        let Some(mut body) = self.body.take() else {
            return;
        };
        if !body.started() || body.done() {
            if body.done() {
                spare(body.into_stack());
            }
            return;
        }
        if !self.busy {
            // Idle between calls: let the body return.
            let saved = CURRENT.get();
            let _ = body.resume(Resume::Exit);
            CURRENT.set(saved);
            spare(body.into_stack());
        }
        // A call still blocked (a stuck task) is unwound by the
        // coroutine's own drop: its guards release what it holds.
    }
}

/// Keeps a stack for the next simulation on this thread (while the thread
/// is not being torn down; then the stack is simply unmapped).
fn spare(stack: DefaultStack) {
    let _ = SPARE.try_with(|s| s.borrow_mut().push(stack));
}

/// Runs one call on the current (coroutine) stack.
fn run(k: &Kernel, call: Call, task: Task<'_>) -> Answer {
    let cx = Cx::new(0, task, &*k.env, &*k.vm);
    match call {
        Call::Alloc { mask, order, node } => Answer::Page(match node {
            None => k.vm.alloc_pages(&k.machine, &cx, mask, order),
            Some(n) => k.vm.alloc_pages_node(&k.machine, &cx, n, mask, order),
        }),
        Call::Mempool { pool, mask } => {
            let cx = k.vm.cx(&cx);
            k.vm.lockdep().might_alloc(&cx, mask, Location::caller());
            Answer::Pool(pool.alloc(&k.machine, &cx, mask))
        }
        Call::Kmalloc { slab, size, mask } => {
            let cx = k.vm.cx(&cx);
            k.vm.lockdep().might_alloc(&cx, mask, Location::caller());
            Answer::Obj(slab.kmalloc(&k.machine, &cx, size, mask))
        }
        Call::Kswapd(nid) => {
            k.vm.kswapd_run(&k.machine, &cx, nid);
            Answer::Kswapd
        }
    }
}
