//! The detectors: the rules ([`Rule`]) checked against what a run does,
//! and the findings they make (which task, where, what happened).

use super::*;

impl Sim {
    #[cold]
    pub(super) fn finding(&mut self, i: usize, rule: Rule, message: String) {
        let at = self.where_(i);
        self.findings.push(Finding {
            rule,
            rule_id: rule.id(),
            task: self.tasks[i].name.clone(),
            at,
            time_ns: self.env.now_ns(),
            message,
        });
    }

    /// Whether task `i` is in atomic context ([`Sim::atomic_reason`] says
    /// why).
    #[inline]
    pub(super) fn in_atomic(&self, i: usize) -> bool {
        let t = &self.tasks[i];
        t.spin > 0
            || t.irq_off > 0
            || t.bh_off > 0
            || t.rcu > 0
            || t.context != TaskContextKind::Process
    }

    pub(super) fn atomic_reason(&self, i: usize) -> Option<String> {
        let t = &self.tasks[i];
        if t.spin > 0 {
            let names: Vec<&str> = t
                .held
                .iter()
                .filter(|&&l| self.locks[l].kind == LockKind::Spin)
                .map(|&l| self.locks[l].name.as_str())
                .collect();
            return Some(format!("holding spinlock {}", names.join(", ")));
        }
        if t.irq_off > 0 {
            return Some("with interrupts disabled".into());
        }
        if t.bh_off > 0 {
            // local_bh_disable() raises the preempt count: no sleeping.
            return Some("with softirqs disabled (local_bh_disable)".into());
        }
        if t.rcu > 0 {
            return Some("inside an RCU read-side section".into());
        }
        match t.context {
            TaskContextKind::SoftIrq => Some("in softirq context".into()),
            TaskContextKind::HardIrq => Some("in hardirq context".into()),
            TaskContextKind::Process => None,
        }
    }

    pub(super) fn end_checks(&mut self, i: usize) {
        let t = &self.tasks[i];
        let mut problems = Vec::new();
        if !t.held.is_empty() {
            let names: Vec<&str> = t
                .held
                .iter()
                .map(|&l| self.locks[l].name.as_str())
                .collect();
            problems.push(format!("exits holding {}", names.join(", ")));
        }
        if t.irq_off > 0 {
            problems.push("exits with interrupts disabled".into());
        }
        if t.bh_off > 0 {
            problems.push("exits with softirqs disabled".into());
        }
        if t.rcu > 0 {
            problems.push("exits inside an RCU read section".into());
        }
        for p in problems {
            self.finding(i, Rule::ProgramError, p);
        }
    }

    /// Follows task -> lock -> owner from `start`; the cycle, if it returns.
    pub(super) fn wait_cycle(&self, start: usize) -> Option<String> {
        let mut cur = start;
        let mut path = Vec::new();
        for _ in 0..=self.tasks.len() {
            if let Some(h) = self.tasks[cur].interrupted_by {
                // An interrupted task waits for the handler on its CPU.
                path.push(format!(
                    "{} is interrupted by {} on its CPU and runs only when the handler returns",
                    self.tasks[cur].name, self.tasks[h].name
                ));
                if h == start {
                    return Some(path.join(", "));
                }
                cur = h;
                continue;
            }
            let l = self.tasks[cur].waiting_on?;
            let owner = self.locks[l].owner?;
            path.push(format!(
                "{}{} waits for {} held by {}",
                self.tasks[cur].name,
                self.wait_where(cur),
                self.locks[l].name,
                self.tasks[owner].name
            ));
            if owner == start {
                return Some(path.join(", "));
            }
            cur = owner;
        }
        None
    }

    /// Where a waiting task waits, for messages: `" (in reclaim's ...)"`
    /// when its allocation's reclaim waits, else nothing.
    pub(super) fn wait_where(&self, i: usize) -> String {
        match self.tasks[i].reclaim_wait {
            Some(p) => format!(" (in {})", p.text()),
            None => String::new(),
        }
    }

    pub(super) fn mark_cycle_stuck(&mut self, start: usize) {
        let mut cur = start;
        for _ in 0..=self.tasks.len() {
            self.tasks[cur].done = Some(Outcome::Stuck);
            let next = match self.tasks[cur].interrupted_by {
                Some(h) => Some(h),
                None => self.tasks[cur].waiting_on.and_then(|l| self.locks[l].owner),
            };
            let Some(o) = next else { return };
            if o == start {
                return;
            }
            cur = o;
        }
    }

    /// What scopes did to a call site's mask, for messages: `" (scopes
    /// added X; removed Y)"`, or nothing.
    pub(super) fn scope_note(site: Gfp, effective: Gfp) -> String {
        let added = effective - site;
        let removed = site - effective;
        let mut parts = Vec::new();
        if !added.is_empty() {
            parts.push(format!("scopes added {}", added.kernel_names()));
        }
        if !removed.is_empty() {
            parts.push(format!("removed {}", removed.kernel_names()));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!(" ({})", parts.join("; "))
        }
    }

    /// The checks every allocation makes before the allocator runs; returns
    /// the mask in force (the task's scopes applied).
    pub(super) fn pre_alloc(&mut self, i: usize, mask: Gfp, node: Option<u32>) -> Gfp {
        let effective = self.tasks[i].ctx.current_gfp_context(mask);
        // Only a call site that asks for kswapd relies on it (a THP
        // allocation with GFP_TRANSHUGE_LIGHT deliberately does not).
        if mask.contains(Gfp::KSWAPD_RECLAIM) {
            self.note_below_low(i, effective, node);
        }
        // might_sleep(): a call site that itself asks to block (and still
        // may, after scopes), in atomic context, is the program's bug
        // whatever happens next. A mask that only scopes made blocking is
        // judged by what the allocator does: a sleep that happens
        // (`Sim::check_sleep`).
        if (mask & effective).contains(Gfp::DIRECT_RECLAIM)
            && !self.tasks[i].retrying
            && self.in_atomic(i)
        {
            if let Some(why) = self.atomic_reason(i) {
                self.finding(
                    i,
                    Rule::SleepInAtomic,
                    format!("allocation with {effective} may sleep {why}: the call site asked for __GFP_DIRECT_RECLAIM"),
                );
            }
        }
        self.check_io_reclaim(i, mask, effective);
        effective
    }

    /// The block layer's counterpart of lockdep's `fs_reclaim` check: an
    /// allocation that may enter reclaim with `__GFP_IO` may start I/O
    /// (swap-out, writeback), whose submission takes the request-queue
    /// locks (`io-reclaim`); a caller holding one would wait for itself.
    #[inline]
    pub(super) fn check_io_reclaim(&mut self, i: usize, mask: Gfp, effective: Gfp) {
        let t = &self.tasks[i];
        if t.held.is_empty()
            || !effective.contains(Gfp::DIRECT_RECLAIM | Gfp::IO)
            || effective.contains(Gfp::NOLOCKDEP)
            || t.ctx.task_flags().contains(TaskFlags::MEMALLOC)
        {
            return;
        }
        let held: Vec<usize> = t
            .held
            .iter()
            .copied()
            .filter(|&l| self.locks[l].io_reclaim && !self.io_reported.contains(&l))
            .collect();
        for l in held {
            self.io_reported.insert(l);
            let name = self.locks[l].name.clone();
            self.finding(
                i,
                Rule::ReclaimRecursion,
                format!(
                    "allocation with {effective}{} may start I/O from reclaim (swap-out, writeback) while holding {name}, which the block layer's submission path takes",
                    Self::scope_note(mask, effective)
                ),
            );
        }
    }

    /// Turns lockdep's new reports, made by task `i`'s allocation, into
    /// findings.
    #[inline]
    pub(super) fn lockdep_findings(&mut self, i: usize, site: Gfp, effective: Gfp) {
        // The reports are copied only when there are new ones.
        if self.vm.lockdep().report_count() != self.reports_seen {
            let reports = self.vm.lockdep().reports();
            let before_reports = std::mem::replace(&mut self.reports_seen, reports.len());
            for rep in reports.get(before_reports..).unwrap_or(&[]) {
                self.finding(
                    i,
                    Rule::ReclaimRecursion,
                    format!(
                        "allocation with {effective}{} may enter FS reclaim while holding {}, which the filesystem's reclaim path takes",
                        Self::scope_note(site, effective),
                        rep.lock
                    ),
                );
            }
        }
    }

    /// Records the first allocation that starts while every zone it may
    /// use sits below its low watermark: the point where the kernel's fast
    /// path fails and the slow path wakes kswapd. Zones the allocation
    /// cannot use do not count, and neither does a zone an allocation
    /// leaves below the mark (the next allocation there wakes kswapd).
    #[inline]
    pub(super) fn note_below_low(&mut self, i: usize, effective: Gfp, node: Option<u32>) {
        if self.below_low.is_some() {
            return;
        }
        let Ok(highest) = gfp::zone::highest_zone(effective) else {
            return;
        };
        let nodes = match (node, effective.contains(Gfp::THISNODE)) {
            (Some(n), true) => Some(NodeMask::single(n as usize)),
            _ => self.tasks[i].cpuset.map(|(_, m)| m),
        };
        let mut eligible = self.machine.zones().iter().filter(|z| {
            z.managed_pages() > 0
                && z.zone_type() <= highest
                && nodes.is_none_or(|m| m.contains(z.nid()))
        });
        let mut any = false;
        let all_low = eligible.all(|z| {
            any = true;
            z.free_pages() < z.watermark(1) as i64
        });
        if any && all_low {
            self.below_low = Some((
                self.tasks[i].name.clone(),
                self.where_(i),
                self.env.now_ns(),
            ));
        }
    }

    /// A failed allocation: the variable holds NULL; NOFAIL and
    /// no-failure-path callers are findings.
    #[cold]
    pub(super) fn alloc_failed(
        &mut self,
        i: usize,
        var: &str,
        site: Gfp,
        effective: Gfp,
        no_failure_path: bool,
        err: &str,
    ) {
        self.tasks[i].report.failures += 1;
        self.set_var(i, var, Var::Failed);
        if (site | effective).contains(Gfp::NOFAIL) {
            let why = if !effective.contains(Gfp::DIRECT_RECLAIM) {
                " the mask in force lacks __GFP_DIRECT_RECLAIM, so the allocator could neither reclaim nor loop until memory came free, and returned no page".to_string()
            } else {
                String::new()
            };
            self.finding(
                i,
                Rule::NofailFailed,
                format!(
                    "__GFP_NOFAIL allocation (call site {site}, in force {effective}{}) failed: {err};{why}",
                    Self::scope_note(site, effective)
                ),
            );
        }
        if no_failure_path {
            self.finding(
                i,
                Rule::UnhandledFailure,
                format!(
                    "allocation of {var} with {effective}{} failed and the caller has no failure path",
                    Self::scope_note(site, effective)
                ),
            );
        }
    }

    /// An allocation its call site accounts (`__GFP_ACCOUNT`), by a task
    /// in a memory cgroup, must be charged to that group.
    #[inline(always)]
    pub(super) fn check_memcg(
        &mut self,
        i: usize,
        var: &str,
        site: Gfp,
        effective: Gfp,
        charged: Option<MemcgId>,
    ) {
        let mc = self.tasks[i].memcg;
        if !site.contains(Gfp::ACCOUNT) || mc == MemcgId::ROOT || charged == Some(mc) {
            return;
        }
        self.memcg_escape(i, var, site, effective, mc);
    }

    #[cold]
    pub(super) fn memcg_escape(
        &mut self,
        i: usize,
        var: &str,
        site: Gfp,
        effective: Gfp,
        mc: MemcgId,
    ) {
        let group = self
            .vm
            .memcg(mc)
            .map(|g| format!("{} (max {} pages)", g.name, g.max))
            .unwrap_or_default();
        self.finding(
            i,
            Rule::MemcgEscape,
            format!(
                "{var} was allocated for memory cgroup {group} with __GFP_ACCOUNT at its call site but was not charged (in force {effective}{}): it escapes the group's limit",
                Self::scope_note(site, effective)
            ),
        );
    }

    /// Whether an allocation with `effective` by task `i` may ignore the
    /// watermarks (`__gfp_pfmemalloc_flags()` == ALLOC_NO_WATERMARKS).
    #[inline]
    pub(super) fn no_watermarks(&self, i: usize, effective: Gfp) -> bool {
        let t = &self.tasks[i];
        !effective.contains(Gfp::NOMEMALLOC)
            && (effective.contains(Gfp::MEMALLOC)
                || (t.ctx.task_flags().contains(TaskFlags::MEMALLOC)
                    && t.context != TaskContextKind::HardIrq))
    }

    #[inline(always)]
    pub(super) fn check_reserves(&mut self, i: usize, effective: Gfp, page: Page) {
        if self.no_watermarks(i, effective) {
            self.check_reserves_left(i, effective, page);
        }
    }

    /// [`Sim::check_reserves`] for an allocation without watermarks.
    pub(super) fn check_reserves_left(&mut self, i: usize, effective: Gfp, page: Page) {
        let Some(zid) = self.machine.page_zone_id(page) else {
            return;
        };
        let z = &self.machine.zones()[zid];
        let min = z.watermark(0);
        let free = z.free_pages();
        if free < (min / 8) as i64 && self.drained.insert(zid) {
            let msg = format!(
                "allocations without watermarks ({}) left zone {} with {free} free pages (min watermark {min}): atomic allocations and reclaim itself can no longer make progress",
                if effective.contains(Gfp::MEMALLOC) { "__GFP_MEMALLOC" } else { "PF_MEMALLOC" },
                z.zone_type().name()
            );
            self.finding(i, Rule::ReservesDrained, msg);
        }
    }

    pub(super) fn check_placement(&mut self, i: usize, a: &Alloc, effective: Gfp, page: Page) {
        if a.order > 0 {
            let head = self.machine.page_is_head(page);
            let asked = a.mask.contains(Gfp::COMP);
            if asked != head {
                let msg = if asked {
                    format!(
                        "{} asked for a compound page (__GFP_COMP) and got none: a scope cleared it (in force {effective})",
                        a.var
                    )
                } else {
                    format!(
                        "{} got compound metadata (head/tail pages) its call site did not ask for: a scope set __GFP_COMP",
                        a.var
                    )
                };
                self.finding(i, Rule::Compound, msg);
            }
        }
        self.check_mobility(i, &a.var, a.mask, effective, page, a.order);
        // Cpuset: user memory (__GFP_HARDWALL at the call site) stays on the
        // task's nodes, except where the kernel lets any allocation leave
        // them: reserve access without watermarks drops the cpuset check
        // (`__alloc_pages_slowpath()` clears ALLOC_CPUSET with the reserve
        // flags), and so do OOM victims and interrupts, and a request that
        // cannot block with __GFP_HIGH (`gfp_to_alloc_flags()` drops
        // ALLOC_CPUSET for it "rather than fail": asked of gfp-mm's own
        // function).
        let exempt = || {
            self.no_watermarks(i, effective)
                || self.tasks[i].context != TaskContextKind::Process
                || self.vm.is_oom_victim(self.tasks[i].pid)
                || !gfp_mm::gfp_to_alloc_flags(effective, a.order, &self.task_unnamed(i))
                    .contains(gfp_mm::AllocFlags::CPUSET)
        };
        if a.mask.contains(Gfp::HARDWALL) && self.tasks[i].cpuset.is_some() && !exempt() {
            if let (Some((_, mems)), Some(got)) =
                (self.tasks[i].cpuset, self.machine.page_to_nid(page))
            {
                if !mems.contains(got) {
                    self.finding(
                        i,
                        Rule::WrongZone,
                        format!(
                            "{} is user memory (call site {}) of a task whose cpuset allows nodes {mems}, and got node {got} (in force {effective})",
                            a.var, a.mask
                        ),
                    );
                }
            }
        }
        let Ok(allowed) = gfp::zone::highest_zone(a.mask) else {
            return;
        };
        if let Some(got) = self.machine.page_zone_type(page) {
            if got > allowed {
                self.finding(
                    i,
                    Rule::WrongZone,
                    format!(
                        "{} got a page from zone {} but its call site ({}) can use zones up to {}; in force: {effective}",
                        a.var,
                        got.name(),
                        a.mask,
                        allowed.name()
                    ),
                );
            }
        }
        if let (Some(n), true) = (a.node, a.mask.contains(Gfp::THISNODE)) {
            if let Some(got) = self.machine.page_to_nid(page) {
                if got != n as usize {
                    self.finding(
                        i,
                        Rule::WrongZone,
                        format!(
                            "{} asked __GFP_THISNODE on node {n} and got node {got}",
                            a.var
                        ),
                    );
                }
            }
        }
    }

    /// The checks made once the run is over: allocations ran below the low
    /// watermark and kswapd was never woken.
    pub(super) fn end_of_run_checks(&mut self) {
        self.check_step_limit();
        if let Some((task, at, time_ns)) = self.below_low.take() {
            if self.env.inner.kswapd_wakeups() == self.wakeups_at_start {
                self.findings.push(Finding {
                    rule: Rule::KswapdNotWoken,
                    rule_id: Rule::KswapdNotWoken.id(),
                    task,
                    at,
                    time_ns,
                    message: "allocations ran with a zone below its low watermark and kswapd was never woken"
                        .into(),
                });
            }
        }
    }

    /// The run stopped at the step limit with tasks unfinished (not by an
    /// allocation stall, which halts it with its own finding).
    fn check_step_limit(&mut self) {
        if self.halted || self.steps < self.config.max_steps {
            return;
        }
        let unfinished: Vec<usize> = (0..self.tasks.len())
            .filter(|&i| self.tasks[i].done.is_none())
            .collect();
        let Some(&first) = unfinished.first() else {
            return;
        };
        let names: Vec<&str> = unfinished
            .iter()
            .map(|&i| self.tasks[i].name.as_str())
            .collect();
        let msg = format!(
            "the run stopped at the step limit ({} steps) with {} unfinished: what they would do next is unknown (raise the limit: `gfp sim --max-steps N`)",
            self.config.max_steps,
            names.join(", ")
        );
        self.finding(first, Rule::StepLimit, msg);
    }
}

impl Sim {
    /// Task `i`'s allocation blocked with `b` (its first block when not
    /// `retrying`): a sleep inside an atomic section or an interrupt
    /// handler, which the call site did not ask for (that case is reported
    /// before the allocator runs), is `sleep-in-atomic`.
    pub(super) fn check_sleep(
        &mut self,
        i: usize,
        b: &stack::Block,
        site: Gfp,
        effective: Gfp,
        retrying: bool,
    ) {
        if retrying || (site & effective).contains(Gfp::DIRECT_RECLAIM) || !self.in_atomic(i) {
            return;
        }
        let Some(why) = self.atomic_reason(i) else {
            return;
        };
        let what = match b {
            stack::Block::Sleep(ns) => format!("slept {ns} ns"),
            stack::Block::Resched => {
                "reached a reschedule point (cond_resched) and gave up the CPU".to_string()
            }
            stack::Block::Pool { .. } => "waited for a mempool element".to_string(),
            stack::Block::Lock(_) => "waited for a lock".to_string(),
        };
        self.finding(
            i,
            Rule::SleepInAtomic,
            format!(
                "allocation (call site {site}, in force {effective}{}) {what} inside the allocator {why}",
                Self::scope_note(site, effective)
            ),
        );
    }
}

impl Sim {
    /// Mobility, by what the placement does. The allocator files a page by
    /// the mask in force (the migratetype it records for the block, the
    /// pageblock it takes it from, ZONE_MOVABLE); what the memory *is*
    /// stays its call site's: a caller that did not ask for movable memory
    /// never makes it migratable, one that did not ask for reclaimable
    /// memory registers no shrinker for it. When the allocator filed such a
    /// page as movable (reclaimable) and it sits in a movable (reclaimable)
    /// pageblock or in ZONE_MOVABLE whose every other page is free or on
    /// the LRU, compaction, offlining or reclaim could empty that block
    /// before the allocation and cannot while the page is held:
    /// `pinned-block`.
    pub(super) fn check_mobility(
        &mut self,
        i: usize,
        var: &str,
        site: Gfp,
        effective: Gfp,
        page: Page,
        order: u32,
    ) {
        use gfp::zone::MigrateType;
        let Some(site_mt) = gfp::zone::migratetype(site) else {
            return;
        };
        if site_mt == MigrateType::Movable {
            return;
        }
        let Some(filed) = self
            .machine
            .page_state(page)
            .filter(|s| s.kind() == gfp_mm::FrameKind::Allocated)
            .map(|s| s.alloc_migratetype())
        else {
            return;
        };
        let (Some(block_mt), Some(zone), Some(pfns)) = (
            self.machine.pageblock_migratetype(page),
            self.machine.page_zone_type(page),
            self.machine.pageblock_pfns(page),
        ) else {
            return;
        };
        let in_movable_zone = zone == gfp::zone::ZoneType::Movable;
        let (what, undone_by) = match filed {
            MigrateType::Movable if in_movable_zone || block_mt == MigrateType::Movable => (
                if in_movable_zone {
                    "ZONE_MOVABLE"
                } else {
                    "a movable pageblock"
                },
                "compaction and offlining (migration)",
            ),
            MigrateType::Reclaimable
                if site_mt == MigrateType::Unmovable && block_mt == MigrateType::Reclaimable =>
            {
                ("a reclaimable pageblock", "reclaim (no shrinker frees it)")
            }
            _ => return,
        };
        let own = page.pfn()..page.pfn() + (1u32 << order);
        let others_movable = pfns.clone().filter(|p| !own.contains(p)).all(|pfn| {
            let p = Page::from_raw(page.machine_id(), pfn);
            match self.machine.page_state(p).map(|s| s.kind()) {
                Some(gfp_mm::FrameKind::Allocated) => self.vm.on_lru(p),
                Some(gfp_mm::FrameKind::Tail | gfp_mm::FrameKind::Claimed) => false,
                _ => true,
            }
        });
        if !others_movable {
            // Pinned already: this page takes nothing away.
            return;
        }
        let node = self.machine.page_to_nid(page).unwrap_or(0);
        let msg = format!(
            "{var} (call site {site}: {} memory, which nothing migrates or shrinks) was filed by the allocator as {} (in force {effective}) and placed in {what}, pages {}..{} of zone {} on node {node}: every other page there is free or on the LRU, so {undone_by} could empty the block before, and cannot while {var} is held",
            site_mt.name(),
            filed.name(),
            pfns.start,
            pfns.end,
            zone.name()
        );
        self.finding(i, Rule::PinnedBlock, msg);
    }
}

impl Sim {
    /// A page the allocator handed out: the blocks it zeroed (its own
    /// record of `prep_new_page()`, [`gfp_mm::FrameState::zeroed_on_alloc`])
    /// no longer hold an earlier owner's data; the others keep whatever
    /// they held.
    pub(super) fn note_zeroing(&mut self, page: Page, order: u32) {
        if (self.machine.page_state(page)).is_some_and(|s| s.zeroed_on_alloc()) {
            for p in page.pfn()..page.pfn() + (1u32 << order) {
                self.set_dirty(p, false);
            }
        }
    }
}
