//! Executing one operation of a task's program: frames, variables, locks,
//! interrupts and RCU state, frees and uses of memory.

use super::*;

impl Sim {
    /// Where task `i` is: its call chain and the operation just executed.
    pub(super) fn where_(&self, i: usize) -> String {
        self.location(i, |pc| pc.saturating_sub(1))
    }

    /// Task `i`'s call chain (`fs() > `...) and the operation of its
    /// innermost frame at `at(pc)`.
    pub(super) fn location(&self, i: usize, at: impl Fn(usize) -> usize) -> String {
        let t = &self.tasks[i];
        let mut s = String::new();
        for f in &t.frames {
            if let FrameKind::Call(n) = &f.kind {
                s.push_str(n);
                s.push_str("() > ");
            }
        }
        if let Some(op) = t.frames.last().and_then(|f| f.ops.get(at(f.pc))) {
            s.push_str(&op_text(op));
        }
        s
    }

    pub(super) fn gfp_task(&self, i: usize) -> Task<'_> {
        self.task_unnamed(i).named(&self.tasks[i].name)
    }

    /// Task `i` as the allocator sees it, without its name (which a kernel
    /// stack carries).
    pub(super) fn task_unnamed(&self, i: usize) -> Task<'static> {
        let t = &self.tasks[i];
        // One struct expression (the task is copied into every context: no
        // field written apart just before).
        let (cpuset, mems_allowed) = match t.cpuset {
            Some((id, mems)) => (id, mems),
            None => (Task::new().cpuset, Task::new().mems_allowed),
        };
        Task {
            comm: None,
            scope: t.ctx.state(),
            cpuset,
            mems_allowed,
            oom_victim: self.vm.is_oom_victim(t.pid),
            context: match t.context {
                TaskContextKind::Process => ExecContext::Task,
                TaskContextKind::SoftIrq => ExecContext::SoftIrq,
                TaskContextKind::HardIrq => ExecContext::HardIrq,
            },
            pid: t.pid,
            ..Task::new()
        }
    }

    pub(super) fn lock_idx(&self, name: &str) -> Option<usize> {
        self.locks.iter().position(|l| l.name == name)
    }

    /// Pops task `i`'s finished frames (leaving their scopes, completing
    /// their I/O, repeating bodies); `false` when the program is over (the
    /// task is then completed).
    #[inline]
    fn pop_finished(&mut self, i: usize) -> bool {
        loop {
            let t = &mut self.tasks[i];
            let Some(f) = t.frames.last() else {
                t.done = Some(Outcome::Completed);
                self.end_checks(i);
                return false;
            };
            if f.pc < f.ops.len() {
                break;
            }
            if let Some(Frame {
                kind: FrameKind::Repeat(left),
                pc,
                ..
            }) = t.frames.last_mut()
            {
                if *left > 1 {
                    *left -= 1;
                    *pc = 0;
                    continue;
                }
            }
            match t.frames.pop().map(|f| f.kind) {
                Some(FrameKind::Scope(tok)) => {
                    t.ctx.leave(tok);
                }
                Some(FrameKind::Io(dev, var)) => self.io_complete(i, dev, var),
                _ => {}
            }
        }
        true
    }

    /// Executes the next operation of task `i`.
    pub(super) fn exec(&mut self, i: usize) {
        if !self.pop_finished(i) {
            return;
        }
        // The frame's ops are shared: clone the handle, not the op.
        let (ops, pc, info) = {
            let t = &self.tasks[i];
            let f = t.frames.last().expect("checked above");
            let none = OpInfo {
                block: NONE,
                var: NONE,
            };
            (
                f.ops.clone(),
                f.pc,
                f.info.get(f.pc).copied().unwrap_or(none),
            )
        };
        let op = &ops[pc];
        let nested = info.block;
        self.op_var = (0, 0, NONE);
        if info.var != NONE {
            if let Some(name) = op_var_name(op) {
                self.op_var = (name.as_ptr() as usize, name.len(), info.var);
            }
        }
        // A contended lock leaves pc in place: the task retries the op.
        let advance = !matches!(op, Op::Lock(_) | Op::SpinLock(_) | Op::SpinLockBh(_));
        if advance {
            self.tasks[i].frames.last_mut().expect("frame").pc += 1;
        }
        self.tasks[i].report.steps += 1;
        let touch = matches!(op, Op::Touch(_));
        if let Op::Alloc(a) = op {
            // The hot path: no clone of the operation.
            self.op_alloc(i, a);
            return;
        }
        match op {
            Op::Lock(n) | Op::SpinLock(n) => self.op_lock(i, n, false),
            Op::SpinLockBh(n) => self.op_lock(i, n, true),
            Op::SpinUnlockBh(n) => {
                self.op_unlock(i, n);
                self.bh_enable(i, "spin_unlock_bh");
            }
            Op::BhDisable => self.tasks[i].bh_off += 1,
            Op::BhEnable => self.bh_enable(i, "local_bh_enable"),
            Op::Fsync(v) => self.op_fsync(i, v.clone()),
            Op::Unlock(n) | Op::SpinUnlock(n) => self.op_unlock(i, n),
            Op::IrqDisable => self.tasks[i].irq_off += 1,
            Op::IrqEnable => {
                if self.tasks[i].irq_off == 0 {
                    self.finding(
                        i,
                        Rule::ProgramError,
                        "irq_enable without irq_disable".into(),
                    );
                } else {
                    self.tasks[i].irq_off -= 1;
                }
            }
            Op::RcuReadLock => self.tasks[i].rcu += 1,
            Op::RcuReadUnlock => {
                if self.tasks[i].rcu == 0 {
                    self.finding(
                        i,
                        Rule::ProgramError,
                        "rcu_read_unlock outside a read section".into(),
                    );
                } else {
                    self.tasks[i].rcu -= 1;
                }
            }
            Op::Scope(sc, body) => {
                let change = match *sc {
                    Scope::Set(g) => ScopeChange::generic(g, Gfp::EMPTY),
                    Scope::Clear(g) => ScopeChange::generic(Gfp::EMPTY, g),
                    Scope::Nofs => ScopeChange::task(TaskFlags::MEMALLOC_NOFS),
                    Scope::Noio => ScopeChange::task(TaskFlags::MEMALLOC_NOIO),
                    Scope::Noreclaim => ScopeChange::task(TaskFlags::MEMALLOC),
                    Scope::Pin => ScopeChange::task(TaskFlags::MEMALLOC_PIN),
                };
                match self.tasks[i].ctx.enter(change) {
                    Ok(tok) => self.push_nested(i, nested, body, FrameKind::Scope(tok)),
                    Err(e) => {
                        self.finding(i, Rule::UnboundedRecursion, e.to_string());
                        self.abort(i);
                    }
                }
            }
            Op::Repeat(n, body) => {
                if !body.is_empty() {
                    self.push_nested(i, nested, body, FrameKind::Repeat(*n));
                }
            }
            Op::IfFailed(v, body) => {
                if matches!(self.var(i, v), Some(Var::Failed)) {
                    self.push_nested(i, nested, body, FrameKind::Body);
                }
            }
            Op::Call(n) => {
                if nested != NONE {
                    self.push_block(i, nested, FrameKind::Call(n.clone()));
                } else if let Some(b) = self.functions.get(n).cloned() {
                    self.push(i, b, FrameKind::Call(n.clone()));
                }
            }
            Op::FsCall => {
                self.push_block(i, self.fs_block, FrameKind::Call("fs".into()));
            }
            Op::Io(io) => self.op_io(i, io.clone()),
            Op::Sleep(ns) => {
                let ns = *ns;
                if let Some(why) = self.atomic_reason(i) {
                    self.finding(i, Rule::SleepInAtomic, format!("sleeps {ns} ns {why}"));
                }
                self.tasks[i].wake_at = self.env.now_ns().saturating_add(ns);
            }
            Op::Alloc(_) => {} // handled above
            Op::MempoolAlloc(a) => self.op_mempool(i, a),
            Op::Kmalloc(a) => self.op_kmalloc(i, a),
            Op::Return => self.op_return(i),
            Op::Free(v) => self.op_free(i, v),
            Op::Touch(v) | Op::ExpectZero(v) => self.op_use(i, v, touch),
        }
    }

    /// `return`: pops frames up to and including the innermost call,
    /// leaving the scopes on the way; in a task's body, ends the program.
    pub(super) fn op_return(&mut self, i: usize) {
        let t = &mut self.tasks[i];
        while let Some(f) = t.frames.pop() {
            match f.kind {
                FrameKind::Scope(tok) => {
                    t.ctx.leave(tok);
                }
                FrameKind::Call(_) => return,
                // An `io` body has no `return`; a frame left this way
                // would drop its request unfinished.
                FrameKind::Body | FrameKind::Repeat(_) | FrameKind::Io(..) => {}
            }
        }
        // Returned from the task's body: the next step completes it.
    }

    pub(super) fn op_free(&mut self, i: usize, v: &str) {
        let freed0 = self.machine.event(gfp_mm::Event::PgFree);
        self.op_free_inner(i, v);
        let freed = self.machine.event(gfp_mm::Event::PgFree);
        self.task_freed += freed.saturating_sub(freed0);
    }

    fn op_free_inner(&mut self, i: usize, v: &str) {
        let cx = Cx::new(0, self.gfp_task(i), &*self.env, &*self.vm);
        match self.var(i, v) {
            Some(Var::Page { page, order }) => {
                if let Err(e) = self.vm.free_pages(&self.machine, &cx, page, order) {
                    let d = e.reason.describe();
                    self.finding(i, Rule::ProgramError, d);
                }
                self.set_var(i, v, Var::Freed);
            }
            Some(Var::Obj(o)) => {
                if let Some(slab) = &self.slab {
                    slab.kfree(&self.machine, &self.vm.cx(&cx), o);
                }
                self.set_var(i, v, Var::Freed);
            }
            Some(Var::Pool { pool, page }) => {
                self.pools[pool]
                    .1
                    .free(&self.machine, &self.vm.cx(&cx), page);
                self.set_var(i, v, Var::Freed);
                self.wake_pool_waiters();
            }
            Some(Var::Failed) => {
                // free(NULL) is fine.
            }
            Some(Var::IoDone) => self.finding(
                i,
                Rule::ProgramError,
                format!("frees {v}, an I/O status, not memory"),
            ),
            Some(Var::Freed) => self.finding(i, Rule::ProgramError, format!("double free of {v}")),
            None => self.finding(i, Rule::ProgramError, format!("frees {v}, never allocated")),
        }
    }

    /// `touch` (`write`) or `expect-zero` (`write` false) on a variable.
    pub(super) fn op_use(&mut self, i: usize, v: &str, write: bool) {
        let pages = match self.var(i, v) {
            Some(Var::Page { page, order }) => Some((page, order)),
            Some(Var::Pool { pool, page }) => Some((page, self.pools[pool].1.order())),
            Some(Var::Obj(o)) => {
                if write {
                    self.dirty_objs.insert(o.0);
                } else if self.dirty_objs.contains(&o.0) {
                    self.finding(
                        i,
                        Rule::NotZeroed,
                        format!("reads {v} as zero, but the object holds an earlier owner's data: the allocator did not zero it"),
                    );
                }
                None
            }
            Some(Var::Failed) => {
                self.finding(
                    i,
                    Rule::UnhandledFailure,
                    format!("uses {v}, whose allocation failed (NULL dereference)"),
                );
                self.abort(i);
                None
            }
            _ => {
                self.finding(
                    i,
                    Rule::ProgramError,
                    format!("uses {v}, which it does not own"),
                );
                None
            }
        };
        if let Some((page, order)) = pages {
            let pfns = page.pfn()..page.pfn() + (1u32 << order);
            if write {
                for p in pfns {
                    self.set_dirty(p, true);
                }
            } else if pfns
                .clone()
                .any(|p| self.dirty.get(p as usize) == Some(&true))
            {
                self.finding(
                    i,
                    Rule::NotZeroed,
                    format!("reads {v} as zero, but the page holds an earlier owner's data: the allocator did not zero it"),
                );
            }
        }
    }

    /// The slot of variable `name`: the current operation's without a
    /// lookup (the same address and length is the same name, which lives
    /// as long as the simulation), else the interned one.
    #[inline]
    pub(super) fn var_slot(&self, name: &str) -> Option<u32> {
        if (name.as_ptr() as usize, name.len()) == (self.op_var.0, self.op_var.1) {
            return Some(self.op_var.2);
        }
        self.blocks.vars.find(name)
    }

    /// Task `i`'s variable `name`.
    #[inline]
    pub(super) fn var(&self, i: usize, name: &str) -> Option<Var> {
        let slot = self.var_slot(name)?;
        self.tasks[i].vars.get(slot as usize).copied().flatten()
    }

    /// Sets task `i`'s variable `name`.
    #[inline]
    pub(super) fn set_var(&mut self, i: usize, name: &str, v: Var) {
        let slot = match self.var_slot(name) {
            Some(s) => s,
            None => self.blocks.vars.id(name),
        } as usize;
        let vars = &mut self.tasks[i].vars;
        if slot >= vars.len() {
            vars.resize(slot + 1, None);
        }
        vars[slot] = Some(v);
    }

    /// Enters `body`, the nested body of the current operation, whose
    /// compiled block is `nested` (compiled now if it has none).
    pub(super) fn push_nested(&mut self, i: usize, nested: u32, body: &[Op], kind: FrameKind) {
        if nested != NONE {
            self.push_block(i, nested, kind);
        } else {
            self.push(i, Rc::from(body), kind);
        }
    }

    /// Enters compiled block `b`.
    pub(super) fn push_block(&mut self, i: usize, b: u32, kind: FrameKind) {
        let block = self.blocks.get(b);
        let (ops, info) = (block.ops.clone(), block.info.clone());
        self.push_frame(i, ops, info, kind);
    }

    /// Enters `ops` (compiled on the way: prefer [`Sim::push_block`]).
    pub(super) fn push(&mut self, i: usize, ops: Rc<[Op]>, kind: FrameKind) {
        let b = self.blocks.compile(ops);
        self.push_block(i, b, kind);
    }

    pub(super) fn push_frame(
        &mut self,
        i: usize,
        ops: Rc<[Op]>,
        info: Rc<[OpInfo]>,
        kind: FrameKind,
    ) {
        // Only calls count: a block (`repeat`, `scope`, `if-failed`) nests
        // as deep as the scenario's nesting bound allows, in frames on the
        // heap, and is not recursion.
        let calls = self.tasks[i]
            .frames
            .iter()
            .filter(|f| matches!(f.kind, FrameKind::Call(_)))
            .count();
        if matches!(kind, FrameKind::Call(_)) && calls >= self.config.max_depth {
            self.finding(
                i,
                Rule::UnboundedRecursion,
                format!("call depth above {}", self.config.max_depth),
            );
            self.abort(i);
            return;
        }
        self.tasks[i].frames.push(Frame {
            ops,
            pc: 0,
            kind,
            info,
        });
    }

    pub(super) fn op_unlock(&mut self, i: usize, n: &str) {
        let Some(l) = self.lock_idx(n) else { return };
        let t = &mut self.tasks[i];
        if let Some(p) = t.held.iter().rposition(|&h| h == l) {
            t.held.remove(p);
            if self.locks[l].kind == LockKind::Spin {
                t.spin -= 1;
            }
            self.locks[l].owner = None;
            let cx = Cx::new(0, self.gfp_task(i), &*self.env, &*self.vm);
            self.vm.lockdep().unlock(&cx, self.locks[l].id);
        } else {
            self.finding(
                i,
                Rule::ProgramError,
                format!("unlocks {n}, which it does not hold"),
            );
        }
    }

    /// `local_bh_enable()` (or the end of `spin_unlock_bh`).
    pub(super) fn bh_enable(&mut self, i: usize, what: &str) {
        if self.tasks[i].bh_off == 0 {
            self.finding(
                i,
                Rule::ProgramError,
                format!("{what} with softirqs not disabled"),
            );
        } else {
            self.tasks[i].bh_off -= 1;
        }
    }

    /// `lock`, `spin_lock`, `spin_lock_bh` (`bh`: softirqs are disabled
    /// once the lock is taken).
    pub(super) fn op_lock(&mut self, i: usize, n: &str, bh: bool) {
        let Some(l) = self.lock_idx(n) else { return };
        let kind = self.locks[l].kind;
        if kind == LockKind::Spin && self.tasks[i].waiting_on.is_none() {
            self.irq_usage(i, l, bh);
        }
        if kind == LockKind::Sleeping && self.tasks[i].waiting_on.is_none() {
            if let Some(why) = self.atomic_reason(i) {
                self.finding(
                    i,
                    Rule::SleepInAtomic,
                    format!("takes sleeping lock {n} {why}"),
                );
            }
        }
        match self.locks[l].owner {
            Some(o) if o == i => {
                self.finding(
                    i,
                    Rule::Deadlock,
                    format!("takes {n}, which it already holds"),
                );
                self.tasks[i].done = Some(Outcome::Stuck);
            }
            Some(_) => {
                let first = self.tasks[i].waiting_on.is_none();
                self.tasks[i].waiting_on = Some(l);
                if first {
                    if let Some(cycle) = self.wait_cycle(i) {
                        self.finding(i, Rule::Deadlock, format!("wait-for cycle: {cycle}"));
                        self.mark_cycle_stuck(i);
                    }
                }
            }
            None => {
                let t = &mut self.tasks[i];
                t.waiting_on = None;
                t.held.push(l);
                if kind == LockKind::Spin {
                    t.spin += 1;
                }
                self.locks[l].owner = Some(i);
                t.bh_off += u32::from(bh);
                t.frames.last_mut().expect("frame").pc += 1;
                let cx = Cx::new(0, self.gfp_task(i), &*self.env, &*self.vm);
                self.vm.lockdep().lock(&cx, self.locks[l].id);
            }
        }
    }
}
