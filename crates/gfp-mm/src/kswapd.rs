//! kswapd (mm/vmscan.c): one per node, woken by allocations that fail the
//! low watermark with `__GFP_KSWAPD_RECLAIM`, reclaims (writing back dirty
//! file pages, which direct reclaim does not) until every eligible zone is
//! above its high watermark. The core has the step ([`Vm::kswapd_run`]);
//! the simulator calls it as a task, the `std` runtime from a thread
//! ([`spawn_kswapd`]).

use alloc::boxed::Box;
#[cfg(feature = "std")]
use alloc::vec::Vec;

use gfp::zone::ZoneType;
use gfp::Gfp;

use crate::env::WaitEvent;
use crate::machine::{Cx, Machine};
use crate::nodemask::NodeId;
use crate::reclaim::{ScanControl, DEF_PRIORITY, SWAP_CLUSTER_MAX};
use crate::vm::{Stat, Vm};

impl Vm {
    /// `pgdat_balanced()`: every zone of `nid` up to `highest` meets its
    /// high watermark for `order`.
    pub fn node_balanced(&self, m: &Machine, nid: NodeId, order: u32, highest: ZoneType) -> bool {
        m.zones()
            .iter()
            .filter(|z| z.nid() == nid && (z.zone_type() as usize) <= highest as usize)
            .all(|z| {
                z.watermark_ok_with(
                    order,
                    z.watermark(2),
                    highest as usize,
                    crate::AllocFlags::default(),
                    z.free_pages(),
                )
            })
    }

    /// `wakeup_kswapd()`: records the request unless the node is balanced;
    /// `true` when kswapd has work.
    pub(crate) fn wakeup_kswapd(
        &self,
        m: &Machine,
        nid: NodeId,
        gfp: Gfp,
        order: u32,
        highest: ZoneType,
    ) -> bool {
        let _ = gfp;
        if self.node_balanced(m, nid, order, highest) {
            return false;
        }
        {
            let mut st = self.state.lock();
            let slot = &mut st.kswapd_pending[nid];
            *slot = Some(match *slot {
                Some((o, h)) => (
                    o.max(order),
                    if (h as usize) > (highest as usize) {
                        h
                    } else {
                        highest
                    },
                ),
                None => (order, highest),
            });
        }
        self.stats.add(Stat::KswapdWakeups, 1);
        if let Some(w) = self.kswapd_waker.lock().as_ref() {
            w(nid);
        }
        true
    }

    /// Whether kswapd of `nid` has been woken and not yet run.
    pub fn kswapd_pending(&self, nid: NodeId) -> bool {
        self.state.lock().kswapd_pending[nid].is_some()
    }

    /// Installs the function that wakes a kswapd thread (the `std`
    /// runtime's [`spawn_kswapd`] does).
    pub fn set_kswapd_waker(&self, w: Box<dyn Fn(NodeId) + Send + Sync>) {
        *self.kswapd_waker.lock() = Some(w);
    }

    /// One run of kswapd on `nid` (`balance_pgdat()`): if woken, reclaims
    /// at decreasing priority until the node is balanced for the requested
    /// order (order 0 when high-order reclaim made no headway). Returns
    /// the pages reclaimed. `cx` is kswapd's context (PF_MEMALLOC is set
    /// here; its mask is `GFP_KERNEL`).
    pub fn kswapd_run(&self, m: &Machine, cx: &Cx<'_>, nid: NodeId) -> u64 {
        let Some((order, highest)) = self.state.lock().kswapd_pending[nid].take() else {
            return 0;
        };
        self.stats.add(Stat::Pageoutrun, 1);
        let mut task = cx.task;
        task.scope.task_flags = task.scope.task_flags.union(gfp::TaskFlags::MEMALLOC);
        let cx = Cx {
            task,
            ..self.cx(cx)
        };
        let mut total = 0;
        let mut order = order;
        for prio in (0..=DEF_PRIORITY).rev() {
            if self.node_balanced(m, nid, order, highest) {
                break;
            }
            let want: u64 = m
                .zones()
                .iter()
                .filter(|z| z.nid() == nid && (z.zone_type() as usize) <= highest as usize)
                .map(|z| (z.watermark(2) as i64 - z.free_pages()).max(0) as u64)
                .sum::<u64>()
                .max(SWAP_CLUSTER_MAX);
            let sc = ScanControl {
                gfp: Gfp::KERNEL,
                nr_to_reclaim: want,
                order,
                reclaim_idx: highest,
                nodemask: None,
                kswapd: true,
                memcg: None,
                // balance_pgdat() has no low-reclaim retry: kswapd always
                // leaves protected groups alone.
                memcg_low_reclaim: false,
            };
            let r = self.shrink_node(m, &cx, &sc, nid, prio, want, &mut false);
            total += r;
            m.drain_all_pages();
            if r == 0 && order > 0 && prio < DEF_PRIORITY - 2 {
                // Fall back to order-0 balancing, as kswapd does when
                // high-order reclaim fails.
                order = 0;
            }
            cx.env.cond_resched();
        }
        cx.env.notify(WaitEvent::KswapdDone(nid));
        total
    }
}

/// A background reclaim thread of the `std` runtime: a kswapd, or the
/// flusher of [`spawn_flusher`].
#[cfg(feature = "std")]
pub struct KswapdThread {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<u64>>,
}

#[cfg(feature = "std")]
impl KswapdThread {
    /// Stops the thread; returns the pages it reclaimed.
    pub fn stop(mut self) -> u64 {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::Release);
        match self.handle.take() {
            Some(h) => {
                h.thread().unpark();
                h.join().unwrap_or(0)
            }
            None => 0,
        }
    }
}

#[cfg(feature = "std")]
impl Drop for KswapdThread {
    fn drop(&mut self) {
        self.stop_inner();
    }
}

#[cfg(feature = "std")]
impl core::fmt::Debug for KswapdThread {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KswapdThread").finish_non_exhaustive()
    }
}

/// Starts the flusher thread (the kernel's writeback workers): every
/// `interval` it writes back up to `batch` dirty file pages per node with
/// [`Vm::flush_dirty`], so that reclaim, which leaves dirty pages to
/// writeback, can then drop them. (Direct reclaim that meets dirty pages
/// only counts a wake-up request, `VmStats::flusher_wakeups`; the thread
/// writes back on its own tick.) Stop it with [`KswapdThread::stop`] (it
/// returns the pages written).
#[cfg(feature = "std")]
pub fn spawn_flusher(
    vm: std::sync::Arc<Vm>,
    m: std::sync::Arc<Machine>,
    env: std::sync::Arc<dyn crate::Environment + Send + Sync>,
    interval: std::time::Duration,
    batch: u64,
) -> KswapdThread {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let h = std::thread::Builder::new()
        .name("flush".into())
        .spawn(move || {
            let task = crate::Task::new().named("kworker/flush");
            let mut total = 0;
            while !stop2.load(std::sync::atomic::Ordering::Acquire) {
                for nid in 0..m.nr_nodes() {
                    let cpu = (0..m.nr_cpus())
                        .find(|&c| m.cpu_to_node(c) == nid)
                        .unwrap_or(0);
                    let cx = Cx::new(cpu, task, &*env, &*vm);
                    total += vm.flush_dirty(&m, &cx, nid, batch);
                }
                std::thread::park_timeout(interval);
            }
            total
        })
        .expect("spawn the flusher");
    KswapdThread {
        stop,
        handle: Some(h),
    }
}

/// Starts kswapd threads for every node of `m`: each sleeps until woken
/// (the waker installed on `vm` unparks it) and runs [`Vm::kswapd_run`]
/// on CPU `cpu` of its node with `env`.
#[cfg(feature = "std")]
pub fn spawn_kswapd(
    vm: std::sync::Arc<Vm>,
    m: std::sync::Arc<Machine>,
    env: std::sync::Arc<dyn crate::Environment + Send + Sync>,
) -> Vec<KswapdThread> {
    let mut threads = Vec::new();
    let mut handles: Vec<std::thread::Thread> = Vec::new();
    for nid in 0..m.nr_nodes() {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (vm2, m2, env2, stop2) = (vm.clone(), m.clone(), env.clone(), stop.clone());
        let cpu = (0..m.nr_cpus())
            .find(|&c| m.cpu_to_node(c) == nid)
            .unwrap_or(0);
        let h = std::thread::Builder::new()
            .name(alloc::format!("kswapd{nid}"))
            .spawn(move || {
                let mut total = 0;
                let task = crate::Task::new().named("kswapd");
                while !stop2.load(std::sync::atomic::Ordering::Acquire) {
                    if vm2.kswapd_pending(nid) {
                        let cx = Cx::new(cpu, task, &*env2, &*vm2);
                        total += vm2.kswapd_run(&m2, &cx, nid);
                    } else {
                        std::thread::park_timeout(std::time::Duration::from_millis(10));
                    }
                }
                total
            })
            .expect("spawn kswapd");
        handles.push(h.thread().clone());
        threads.push(KswapdThread {
            stop,
            handle: Some(h),
        });
    }
    vm.set_kswapd_waker(Box::new(move |nid| {
        if let Some(t) = handles.get(nid) {
            t.unpark();
        }
    }));
    threads
}
