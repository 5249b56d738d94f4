//! The allocating task as the allocator sees it: its scopes (PF_MEMALLOC and
//! friends), cpuset, OOM-victim state and execution context. The core takes
//! it explicitly; the `std` runtime fills it from the calling thread.

use gfp::context::ScopeState;
use gfp::{Gfp, TaskFlags};

use crate::cpuset::CpusetId;
use crate::nodemask::NodeMask;

/// Where the allocation runs (`in_task()`, `in_serving_softirq()`,
/// `in_interrupt()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExecContext {
    /// Process context.
    #[default]
    Task,
    /// Serving a softirq (PF_MEMALLOC of the interrupted task still counts
    /// there, as in the kernel).
    SoftIrq,
    /// Hard interrupt: no task, no cpuset, no PF_MEMALLOC.
    HardIrq,
}

/// The allocating task.
#[derive(Clone, Copy, Debug)]
pub struct Task<'a> {
    /// The task's name (`current->comm`), for reports; `None` asks the
    /// environment.
    pub comm: Option<&'a str>,
    /// The task's scopes; [`ScopeState::apply`] is `current_gfp_context()`
    /// and `scope.task_flags` holds PF_MEMALLOC.
    pub scope: ScopeState,
    /// The task's cpuset.
    pub cpuset: CpusetId,
    /// The task's `mems_allowed` (a copy of its cpuset's effective nodes).
    pub mems_allowed: NodeMask,
    /// Selected by the OOM killer (`tsk_is_oom_victim`): may use part of the
    /// reserves and any node.
    pub oom_victim: bool,
    /// PF_EXITING: may allocate outside a non-hardwall cpuset.
    pub exiting: bool,
    /// A realtime or deadline task: blocking allocations get the
    /// `ALLOC_MIN_RESERVE` bonus.
    pub realtime: bool,
    /// PF_WQ_WORKER: the retry loop sleeps a tick instead of `cond_resched`.
    pub wq_worker: bool,
    /// Process, softirq or hardirq context.
    pub context: ExecContext,
    /// The task's id for the layers above the allocator (OOM killer, memcg,
    /// lock tracking); 0: none.
    pub pid: u32,
}

impl Default for Task<'_> {
    fn default() -> Self {
        Task::new()
    }
}

impl<'a> Task<'a> {
    /// An ordinary task in the root cpuset with no scope.
    pub const fn new() -> Task<'a> {
        Task {
            comm: None,
            scope: ScopeState::NONE,
            cpuset: CpusetId::ROOT,
            mems_allowed: NodeMask::from_bits(u64::MAX),
            oom_victim: false,
            exiting: false,
            realtime: false,
            wq_worker: false,
            context: ExecContext::Task,
            pid: 0,
        }
    }

    /// The same task with an id.
    pub const fn with_pid(mut self, pid: u32) -> Task<'a> {
        self.pid = pid;
        self
    }

    /// The same task with a name.
    pub const fn named(mut self, comm: &'a str) -> Task<'a> {
        self.comm = Some(comm);
        self
    }

    /// The same task with a scope state (from a [`gfp::TaskContext`]).
    pub const fn with_scope(mut self, scope: ScopeState) -> Task<'a> {
        self.scope = scope;
        self
    }

    /// The task's PF_* flags.
    #[inline(always)]
    pub const fn flags(&self) -> TaskFlags {
        self.scope.task_flags
    }

    /// Whether PF_MEMALLOC is set.
    #[inline(always)]
    pub const fn memalloc(&self) -> bool {
        self.scope.task_flags.contains(TaskFlags::MEMALLOC)
    }

    /// `current_gfp_context(gfp)` for this task.
    #[inline(always)]
    pub const fn gfp_context(&self, gfp: Gfp) -> Gfp {
        self.scope.apply(gfp)
    }

    /// `in_interrupt()`.
    pub const fn in_interrupt(&self) -> bool {
        !matches!(self.context, ExecContext::Task)
    }
}
