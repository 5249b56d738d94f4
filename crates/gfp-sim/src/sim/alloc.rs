//! The allocation operations (`alloc`, `mempool-alloc`, `kmalloc`): each
//! runs on the task's kernel stack under the stall watchdog, then the
//! detectors look at what it got.

use super::*;

impl Sim {
    /// Runs one allocation on task `i`'s kernel stack under the stall
    /// watchdog, or resumes the one blocked there, then does the
    /// bookkeeping every kind shares. `None`: it blocked (the operation
    /// runs again when the task does, and resumes the call) or stalled. A
    /// stalled `__GFP_NOFAIL` request (at the call site or in force) is a
    /// finding and stops the run; any other request that loops waits for
    /// others' progress, as the kernel's NOFS and NOIO allocations do (they
    /// do not invoke the OOM killer), so the task is stuck without a
    /// finding.
    pub(super) fn guarded(
        &mut self,
        i: usize,
        site: Gfp,
        effective: Gfp,
        order: u32,
        call: stack::Call,
    ) -> Option<stack::Answer> {
        // The name travels with the stack.
        let task = self.task_unnamed(i);
        let t = &mut self.tasks[i];
        t.waiting_on = None;
        t.reclaim_wait = None;
        let woken = t.pool_wait.take().is_some() && std::mem::take(&mut t.pool_woken);
        // A resumed allocation's watchdog goes on from its first start.
        let (t0, calls) = t.alloc_watch.take().unwrap_or((self.env.now_ns(), 0));
        let retrying = std::mem::take(&mut t.retrying);
        if t.stack.as_ref().is_none_or(|s| s.spent()) {
            let comm: Rc<str> = Rc::from(t.name.as_str());
            let stack = stack::KernelStack::new(self.kernel(), comm);
            self.tasks[i].stack = Some(stack);
        }
        self.publish(Actor::Task(i));
        self.env.armed.set(Some(t0));
        self.env.calls.set(calls);
        let stack = self.tasks[i].stack.as_mut().expect("made above");
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if stack.busy() {
                stack.wake(woken)
            } else {
                stack.start(call, task)
            }
        }));
        self.env.armed.set(None);
        self.world.lock().actor = Actor::Outside;
        let blocked = self.env.calls.get();
        if !retrying {
            // An allocation resumed after a wait counts once.
            self.tasks[i].report.allocations += 1;
        }
        let mut block = None;
        let result = match result {
            Ok(stack::Step::Done(r)) => Some(r),
            Ok(stack::Step::Blocked(b)) => {
                // Handled below, after lockdep's view of the same
                // allocation: the wait is what happens next.
                block = Some(b);
                None
            }
            Err(payload) => {
                if payload.downcast_ref::<Stall>().is_none() {
                    std::panic::resume_unwind(payload);
                }
                let waited_ns = self.env.now_ns().saturating_sub(t0);
                if (site | effective).contains(Gfp::NOFAIL) {
                    self.finding(
                        i,
                        Rule::AllocStall,
                        format!(
                            "__GFP_NOFAIL allocation (call site {site}, in force {effective}{}) order {order} made no progress in {waited_ns} ns of virtual time and {blocked} blocking points (the watchdog's bounds: {} s, {STALL_CALLS} points); the kernel would keep looping here",
                            Self::scope_note(site, effective),
                            STALL_NS / 1_000_000_000
                        ),
                    );
                    self.halted = true;
                }
                self.tasks[i].done = Some(Outcome::Stuck);
                None
            }
        };
        if result.is_some() {
            // Accounted once it is done, from its first start.
            let latency = self.env.now_ns().saturating_sub(t0);
            let r = &mut self.tasks[i].report;
            r.latency_total_ns += latency;
            r.latency_max_ns = r.latency_max_ns.max(latency);
        }
        self.lockdep_findings(i, site, effective);
        if let Some(b) = block {
            self.check_sleep(i, &b, site, effective, retrying);
            self.call_blocked(i, b, site, effective, (t0, blocked));
        }
        self.reap_killed();
        result
    }

    /// Task `i`'s call blocked with `b`: the task gives up the CPU until
    /// the wait is over, and its operation runs again then, resuming the
    /// call (`watch`: the call's watchdog so far).
    pub(super) fn call_blocked(
        &mut self,
        i: usize,
        b: stack::Block,
        site: Gfp,
        effective: Gfp,
        watch: (u64, u32),
    ) {
        self.blocked = true;
        let now = self.env.now_ns();
        let t = &mut self.tasks[i];
        t.alloc_watch = Some(watch);
        t.retrying = true;
        match b {
            stack::Block::Sleep(ns) => t.wake_at = now.saturating_add(ns),
            stack::Block::Resched => {}
            stack::Block::Pool { id, timeout_ns } => {
                t.wake_at = now.saturating_add(timeout_ns);
                t.pool_wait = Some(id);
                t.pool_woken = false;
            }
            stack::Block::Lock(b) => self.reclaim_blocked(i, b, site, effective),
        }
        let t = &mut self.tasks[i];
        if t.done.is_none() {
            if let Some(f) = t.frames.last_mut() {
                f.pc = f.pc.saturating_sub(1);
            }
        }
    }

    /// What kernel stacks run their calls against.
    pub(super) fn kernel(&self) -> stack::Kernel {
        stack::Kernel {
            machine: self.machine.clone(),
            vm: self.vm.clone(),
            env: self.env.clone(),
        }
    }

    pub(super) fn op_alloc(&mut self, i: usize, a: &Alloc) {
        let effective = self.pre_alloc(i, a.mask, a.node);
        let node = match a.node {
            Some(n) if n as usize >= self.machine.nr_nodes() => {
                // Refused before the allocator runs, as the kernel's
                // node-id check would.
                let e = AllocError::NoSuchNode(n as usize);
                self.tasks[i].report.allocations += 1;
                let e = e.to_string();
                self.alloc_failed(i, &a.var, a.mask, effective, a.no_failure_path, &e);
                return;
            }
            n => n.map(|n| n as usize),
        };
        // The allocator's first attempt cannot block: it runs here, and
        // only a request bound for the slow path (or one blocked there
        // already) moves to the task's kernel stack.
        let first = if self.tasks[i].retrying {
            None
        } else {
            let cx = Cx::new(0, self.gfp_task(i), &*self.env, &*self.vm);
            (self.vm).alloc_pages_first_attempt(&self.machine, &cx, node, a.mask, a.order)
        };
        let result = if let Some(r) = first {
            self.tasks[i].report.allocations += 1;
            self.lockdep_findings(i, a.mask, effective);
            r
        } else {
            let call = stack::Call::Alloc {
                mask: a.mask,
                order: a.order,
                node,
            };
            match self.guarded(i, a.mask, effective, a.order, call) {
                Some(stack::Answer::Page(r)) => r,
                _ => return,
            }
        };
        match result {
            Ok(page) => {
                self.check_placement(i, a, effective, page);
                self.check_reserves(i, effective, page);
                // Only an accounted call site in a group needs the charge.
                let charged =
                    if a.mask.contains(Gfp::ACCOUNT) && self.tasks[i].memcg != MemcgId::ROOT {
                        self.vm.kmem_memcg(page)
                    } else {
                        None
                    };
                self.check_memcg(i, &a.var, a.mask, effective, charged);
                self.note_zeroing(page, a.order);
                self.set_var(
                    i,
                    &a.var,
                    Var::Page {
                        page,
                        order: a.order,
                    },
                );
            }
            Err(e) => {
                if let AllocError::BadZone(_) | AllocError::BadMigratetype(_) = e {
                    self.finding(
                        i,
                        Rule::WrongZone,
                        format!(
                            "the mask in force for {}, {effective}{}, names no zone or mobility class the allocator can serve: {e}",
                            a.var,
                            Self::scope_note(a.mask, effective)
                        ),
                    );
                }
                let e = e.to_string();
                self.alloc_failed(i, &a.var, a.mask, effective, a.no_failure_path, &e);
            }
        }
    }

    pub(super) fn op_mempool(&mut self, i: usize, a: &PoolAlloc) {
        let Some(pool) = self.pools.iter().position(|(n, _)| *n == a.pool) else {
            return;
        };
        // mempool_alloc() adds these for its backing allocator: the pool,
        // not the emergency reserves, is its fallback.
        let backing = a.mask | Gfp::NOMEMALLOC | Gfp::NORETRY | Gfp::NOWARN;
        let effective = self.pre_alloc(i, backing, None);
        let from_reserve = self.pools[pool].1.from_reserve();
        let call = stack::Call::Mempool {
            pool: self.pools[pool].1.clone(),
            mask: a.mask,
        };
        let order = self.pools[pool].1.order();
        let Some(stack::Answer::Pool(got)) = self.guarded(i, a.mask, effective, order, call) else {
            return;
        };
        match got {
            Some(page) => {
                if self.pools[pool].1.from_reserve() == from_reserve {
                    // From the page allocator, not the pool's own elements.
                    self.check_reserves(i, effective, page);
                }
                self.set_var(i, &a.var, Var::Pool { pool, page });
            }
            None => self.alloc_failed(
                i,
                &a.var,
                a.mask,
                effective,
                a.no_failure_path,
                "mempool_alloc returned NULL (no direct reclaim, pool empty)",
            ),
        }
    }

    pub(super) fn op_kmalloc(&mut self, i: usize, a: &Kmalloc) {
        if self.slab.is_none() {
            self.slab = Some(Rc::new(
                Slab::new(&self.machine, ObjExtMode::WithFlag).with_memcg(self.vm.clone()),
            ));
        }
        let effective = self.pre_alloc(i, a.mask, None);
        let call = stack::Call::Kmalloc {
            slab: self.slab.clone().expect("made above"),
            size: a.size as usize,
            mask: a.mask,
        };
        let Some(stack::Answer::Obj(r)) = self.guarded(i, a.mask, effective, 0, call) else {
            return;
        };
        match r {
            Ok(o) => {
                let charged = self.slab.as_ref().and_then(|s| s.obj_memcg(o));
                self.check_memcg(i, &a.var, a.mask, effective, charged);
                // The slab's own answer to whether it zeroed the object.
                if Slab::want_init_on_alloc(&self.machine, effective) {
                    self.dirty_objs.remove(&o.0);
                }
                self.set_var(i, &a.var, Var::Obj(o));
            }
            Err(e) => {
                if let SlabError::ObjExtRecursion { depth } = e {
                    self.finding(
                        i,
                        Rule::UnboundedRecursion,
                        format!(
                            "kmalloc of {} with {effective}{}: allocating the slab's object-extension vector needs a vector itself ({depth} levels deep, unbounded), because the vector's mask lost __GFP_NO_OBJ_EXT",
                            a.var,
                            Self::scope_note(a.mask, effective)
                        ),
                    );
                }
                let e = e.to_string();
                self.alloc_failed(i, &a.var, a.mask, effective, a.no_failure_path, &e);
            }
        }
    }
}
