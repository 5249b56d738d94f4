//! The simulator's side of [`crate::timeline`]: reads the machine, the
//! memory manager and the tasks after every scheduler step and turns what
//! changed into samples and events. A child module of `sim` so the hook in
//! `sim.rs` stays one call per step; it only reads the simulation, so a
//! run records the same report whether it records a timeline or not.

use std::collections::BTreeSet;

use gfp_mm::{Environment, Pid};

use super::{FrameKind, Sim};
use crate::sim::{Outcome, Rule};
use crate::timeline::{
    Activity, At, Bucketed, Event, EventKind, Events, Lane, PageFlow, ReclaimCounts, Series,
    Timeline, ZoneSeries,
};

/// What a task was last seen doing, to turn changes into events.
#[derive(Default)]
struct LaneState {
    /// Operations it had executed.
    steps: u64,
    /// Allocations that had failed.
    failures: u64,
    started: bool,
    ended: bool,
    /// An open wait or sleep: kind, start, detail, and the lock waited for.
    blocked: Option<(EventKind, At, String, Option<usize>)>,
    /// Open scopes, outermost first: entered at, label.
    scopes: Vec<(At, String)>,
}

/// The recording in progress.
pub(super) struct Recorder {
    tl: Timeline,
    /// For each recorded zone, its index in `Machine::zones()`.
    zone_ids: Vec<usize>,
    /// Last values per recorded zone: free, free + per-CPU, min, low, high.
    last_zone: Vec<[i64; 5]>,
    /// pgscan_kswapd, pgsteal_kswapd, pgscan_direct, pgsteal_direct.
    last_reclaim: [u64; 4],
    last_wakeups: u64,
    /// kswapd runs completed so far (the report's count).
    last_runs: u64,
    last_oom_kills: u64,
    /// The counters behind [`PageFlow`] when recording started.
    flow0: PageFlow,
    /// The same after the last step (only the frees other than LRU
    /// reclaim are kept up to date).
    last_flow: PageFlow,
    last_time: u64,
    kswapd_pending: Vec<bool>,
    /// The lane of node 0's kswapd (node n's is this plus n).
    kswapd_lane: usize,
    /// kswapd's run in progress (it may block over several steps): its
    /// node, start, and the pages scanned and reclaimed so far.
    kswapd_run: Option<(usize, At, u64, u64)>,
    lanes: Vec<LaneState>,
    victims: BTreeSet<Pid>,
    findings_seen: usize,
    /// Where the allocation that first ran below a low watermark was (the
    /// `kswapd-not-woken` finding, pushed at the end, points there).
    below_low_at: Option<At>,
}

impl Sim {
    /// Starts recording if the configuration asks for it: the state after
    /// the fill is the first sample.
    pub(super) fn start_recording(&mut self) {
        if !self.config.record_timeline {
            return;
        }
        let zone_ids: Vec<usize> = (0..self.machine.zones().len())
            .filter(|&z| self.machine.zones()[z].managed_pages() > 0)
            .collect();
        let zones = zone_ids
            .iter()
            .map(|&z| {
                let z = &self.machine.zones()[z];
                ZoneSeries {
                    nid: z.nid(),
                    zone: z.zone_type().name(),
                    managed_pages: z.managed_pages(),
                    free: Series::new(),
                    free_pcp: Series::new(),
                    watermarks: [Series::new(), Series::new(), Series::new()],
                }
            })
            .collect();
        let nodes = self.machine.nr_nodes();
        let mut lanes: Vec<Lane> = self
            .tasks
            .iter()
            .map(|t| Lane {
                name: t.name.clone(),
                kswapd_node: None,
            })
            .collect();
        let kswapd_lane = lanes.len();
        lanes.extend((0..nodes).map(|n| Lane {
            name: format!("kswapd{n}"),
            kswapd_node: Some(n),
        }));
        let stats = self.vm.stats();
        let mut r = Recorder {
            tl: Timeline {
                machine: self.machine_words(),
                fills: self.scenario.fills.iter().map(|f| f.text()).collect(),
                zones,
                activity: Bucketed::new(),
                clock: Series::new(),
                lanes,
                events: Events::default(),
                finding_at: Vec::new(),
                finding_rules: Vec::new(),
                end: At::default(),
                timed_steps: 0,
                flow: PageFlow::default(),
            },
            last_zone: vec![[i64::MIN; 5]; zone_ids.len()],
            zone_ids,
            last_reclaim: [
                stats.pgscan_kswapd,
                stats.pgsteal_kswapd,
                stats.pgscan_direct,
                stats.pgsteal_direct,
            ],
            last_wakeups: self.env.inner.kswapd_wakeups(),
            last_runs: self.kswapd_runs,
            last_oom_kills: stats.oom_kill,
            flow0: self.flow_now(),
            last_flow: self.flow_now(),
            last_time: self.env.now_ns(),
            kswapd_pending: (0..nodes).map(|n| self.vm.kswapd_pending(n)).collect(),
            kswapd_lane,
            kswapd_run: None,
            lanes: self.tasks.iter().map(|_| LaneState::default()).collect(),
            victims: BTreeSet::new(),
            findings_seen: self.findings.len(),
            below_low_at: None,
        };
        let at = self.at();
        r.tl.clock.sample(at, at.time_ns as i64);
        self.sample_zones(&mut r, at, true);
        self.timeline = Some(Box::new(r));
    }

    /// The machine in words: the scenario's declaration, nodes, CPUs and
    /// each node's zones.
    fn machine_words(&self) -> String {
        let decl = match &self.scenario.machine {
            crate::format::MachineDecl::Preset(p) => p.clone(),
            crate::format::MachineDecl::Pages(n, crate::format::PcpSizing::Small) => {
                format!("pages={n}")
            }
            crate::format::MachineDecl::Pages(n, pcp) => format!("pages={n} pcp={}", pcp.name()),
        };
        let mut nodes = Vec::new();
        for n in 0..self.machine.nr_nodes() {
            let zones: Vec<String> = self
                .machine
                .zones()
                .iter()
                .filter(|z| z.nid() == n && z.managed_pages() > 0)
                .map(|z| format!("{} {}", z.zone_type().name(), z.managed_pages()))
                .collect();
            nodes.push(format!("node {n}: {} pages", zones.join(", ")));
        }
        format!(
            "{decl} ({} node{}, {} CPU{}; {})",
            self.machine.nr_nodes(),
            if self.machine.nr_nodes() == 1 {
                ""
            } else {
                "s"
            },
            self.machine.nr_cpus(),
            if self.machine.nr_cpus() == 1 { "" } else { "s" },
            nodes.join("; ")
        )
    }

    /// The page-flow counters now (totals since the machine started).
    fn flow_now(&self) -> PageFlow {
        let stats = self.vm.stats();
        PageFlow {
            lru_kswapd: stats.pgsteal_kswapd,
            lru_direct: stats.pgsteal_direct,
            shrinkers: stats.slabs_scanned,
            fs_cache: self.fs_shrinker.as_ref().map_or(0, |s| s.cache.freed()),
            task_frees: self.task_freed,
            fs_buffers: self.world.lock().fs_buffers_freed,
            oom_kills: stats.oom_freed_pages,
            freed: self.machine.event(gfp_mm::Event::PgFree),
            allocated: self
                .machine
                .zones()
                .iter()
                .map(|z| self.machine.zone_event(z.id(), gfp_mm::ZoneEvent::PgAlloc))
                .sum(),
        }
    }

    fn at(&self) -> At {
        At {
            step: self.steps,
            time_ns: self.env.now_ns(),
        }
    }

    /// Samples each zone's series that changed (all of them when `all`).
    fn sample_zones(&self, r: &mut Recorder, at: At, all: bool) {
        for (k, &zid) in r.zone_ids.iter().enumerate() {
            let z = &self.machine.zones()[zid];
            let free = z.free_pages();
            let vals = [
                free,
                free + self.machine.zone_pcp_pages(zid) as i64,
                z.watermark(0) as i64,
                z.watermark(1) as i64,
                z.watermark(2) as i64,
            ];
            let last = &mut r.last_zone[k];
            if !all && vals == *last {
                continue;
            }
            let zs = &mut r.tl.zones[k];
            let [min, low, high] = &mut zs.watermarks;
            let series = [&mut zs.free, &mut zs.free_pcp, min, low, high];
            for ((s, v), old) in series.into_iter().zip(vals).zip(*last) {
                if all || v != old {
                    s.sample(at, v);
                }
            }
            *last = vals;
        }
    }

    /// The recording hook: called after every scheduler step that ran
    /// something (`pick`: the task, or `None` for kswapd), with the virtual
    /// time the step started at. Does nothing unless recording.
    pub(super) fn record_step(&mut self, pick: Option<usize>, t0: u64) {
        let Some(mut r) = self.timeline.take() else {
            return;
        };
        let s = self.steps;
        let at = self.at();
        let before = At {
            step: s.saturating_sub(1),
            time_ns: t0,
        };
        // Time moves within steps (reclaim, kswapd) and between them (every
        // task asleep): either way this step ends at a new instant.
        if at.time_ns != r.last_time {
            r.tl.clock.sample(at, at.time_ns as i64);
            r.last_time = at.time_ns;
            r.tl.timed_steps += 1;
        }
        self.sample_zones(&mut r, at, false);

        // Reclaim activity.
        let stats = self.vm.stats();
        let counts = self.record_reclaim(&mut r, &stats, before, at);

        let waker = match pick {
            Some(i) => self.tasks[i].name.clone(),
            None => "kswapd".to_string(),
        };
        match pick {
            Some(i) => self.record_task_step(&mut r, i, before, at),
            None => self.record_kswapd_step(&mut r, &counts, before, at),
        }
        self.record_kswapd_wakes(&mut r, &waker, at);

        if stats.oom_kill > r.last_oom_kills {
            r.last_oom_kills = stats.oom_kill;
            self.record_oom(&mut r, pick, at);
        }
        // Tasks end on their own step, or on another's (a deadlock cycle
        // marks every task in it).
        for j in 0..self.tasks.len() {
            if let (Some(o), false) = (self.tasks[j].done, r.lanes[j].ended) {
                self.record_end(&mut r, j, o, at);
            }
        }
        self.record_findings(&mut r, s);
        self.timeline = Some(r);
    }

    /// The step's reclaim and other frees (`stats`: the counters now):
    /// pushed as the activity of the step from `before` to `at` unless
    /// zero, and returned; the counters become the recorder's last.
    fn record_reclaim(
        &self,
        r: &mut Recorder,
        stats: &gfp_mm::VmStats,
        before: At,
        at: At,
    ) -> ReclaimCounts {
        let now_reclaim = [
            stats.pgscan_kswapd,
            stats.pgsteal_kswapd,
            stats.pgscan_direct,
            stats.pgsteal_direct,
        ];
        let d: Vec<u64> = now_reclaim
            .iter()
            .zip(r.last_reclaim)
            .map(|(n, o)| n.saturating_sub(o))
            .collect();
        let wakeups = self.env.inner.kswapd_wakeups();
        let counts = ReclaimCounts {
            scanned_kswapd: d[0],
            reclaimed_kswapd: d[1],
            scanned_direct: d[2],
            reclaimed_direct: d[3],
            kswapd_wakeups: wakeups.saturating_sub(r.last_wakeups),
            // A run as the report counts it: kswapd's call completed in
            // this step (a run that blocks spans several steps).
            kswapd_runs: self.kswapd_runs.saturating_sub(r.last_runs),
            ..Default::default()
        };
        let flow = PageFlow {
            shrinkers: stats.slabs_scanned,
            fs_cache: self.fs_shrinker.as_ref().map_or(0, |s| s.cache.freed()),
            task_frees: self.task_freed,
            fs_buffers: self.world.lock().fs_buffers_freed,
            oom_kills: stats.oom_freed_pages,
            ..r.last_flow
        };
        let mut counts = counts;
        counts.freed_shrinkers = flow.shrinkers - r.last_flow.shrinkers;
        counts.freed_fs_cache = flow.fs_cache - r.last_flow.fs_cache;
        counts.freed_tasks = flow.task_frees - r.last_flow.task_frees;
        counts.freed_fs_buffers = flow.fs_buffers - r.last_flow.fs_buffers;
        counts.freed_oom = flow.oom_kills - r.last_flow.oom_kills;
        r.last_flow = flow;
        r.last_reclaim = now_reclaim;
        r.last_wakeups = wakeups;
        r.last_runs = self.kswapd_runs;
        if !counts.is_zero() {
            r.tl.activity.push(
                at.step,
                Activity {
                    from: before,
                    to: at,
                    counts,
                },
            );
        }
        counts
    }

    /// A kswapd step (its reclaim in `counts`): starts, extends or ends
    /// kswapd's run, pushing the run as one span when it ends.
    fn record_kswapd_step(&self, r: &mut Recorder, counts: &ReclaimCounts, before: At, at: At) {
        // The simulator starts a run on the first node with kswapd
        // pending; a run that blocks goes on in later steps.
        if r.kswapd_run.is_none() {
            if let Some(n) = r.kswapd_pending.iter().position(|&p| p) {
                r.kswapd_run = Some((n, before, 0, 0));
            }
        }
        if let Some((_, _, scanned, reclaimed)) = r.kswapd_run.as_mut() {
            *scanned += counts.scanned_kswapd;
            *reclaimed += counts.reclaimed_kswapd;
        }
        if !self.kswapd_busy() {
            if let Some((n, from, scanned, reclaimed)) = r.kswapd_run.take() {
                r.tl.events.push(Event {
                    lane: r.kswapd_lane + n,
                    kind: EventKind::KswapdRun,
                    from,
                    to: at,
                    count: 1,
                    detail: format!(
                        "kswapd{n} ran: scanned {scanned} pages, reclaimed {reclaimed}"
                    ),
                });
            }
        }
    }

    /// Each node's kswapd woken (by `waker`) or gone back to sleep since
    /// the last step, as a point event on its lane at `at`.
    fn record_kswapd_wakes(&self, r: &mut Recorder, waker: &str, at: At) {
        for n in 0..r.kswapd_pending.len() {
            let p = self.vm.kswapd_pending(n);
            if p != r.kswapd_pending[n] {
                r.tl.events.push(Event {
                    lane: r.kswapd_lane + n,
                    kind: if p {
                        EventKind::KswapdWake
                    } else {
                        EventKind::KswapdSleep
                    },
                    from: at,
                    to: at,
                    count: 1,
                    detail: if p {
                        format!("kswapd{n} woken by {waker}")
                    } else {
                        format!("kswapd{n} goes back to sleep")
                    },
                });
                r.kswapd_pending[n] = p;
            }
        }
    }

    /// Places the findings pushed in step `s`, and the first allocation
    /// below a low watermark once there is one.
    fn record_findings(&self, r: &mut Recorder, s: u64) {
        for f in &self.findings[r.findings_seen..] {
            r.tl.finding_at.push(At {
                step: s,
                time_ns: f.time_ns,
            });
            r.tl.finding_rules.push(f.rule);
        }
        r.findings_seen = self.findings.len();
        if r.below_low_at.is_none() {
            if let Some((_, _, t)) = &self.below_low {
                r.below_low_at = Some(At {
                    step: s,
                    time_ns: *t,
                });
            }
        }
    }

    /// What task `i` did in the step that ended at `at`.
    fn record_task_step(&self, r: &mut Recorder, i: usize, before: At, at: At) {
        let t = &self.tasks[i];
        let lane = i;
        let ran = t.report.steps > r.lanes[i].steps;
        if !ran {
            return;
        }
        let ls = &mut r.lanes[i];
        ls.steps = t.report.steps;
        let mut out = Vec::new();
        if !ls.started {
            ls.started = true;
            out.push(point(lane, EventKind::Start, before, "starts".into()));
        }
        // Scopes left at the start of this step.
        let depth = t
            .frames
            .iter()
            .filter(|f| matches!(f.kind, FrameKind::Scope(_)))
            .count();
        while ls.scopes.len() > depth {
            if let Some((from, label)) = ls.scopes.pop() {
                out.push(span(lane, EventKind::Scope, from, before, label));
            }
        }
        if ls.scopes.len() < depth {
            // Entered now: the scope op is the one before the new frame.
            let label = t
                .frames
                .iter()
                .rposition(|f| matches!(f.kind, FrameKind::Scope(_)))
                .and_then(|j| j.checked_sub(1))
                .and_then(|j| {
                    let f = &t.frames[j];
                    f.ops.get(f.pc.checked_sub(1)?)
                })
                .map(super::op_text)
                .unwrap_or_else(|| "scope".into());
            ls.scopes.push((at, label));
        }
        let where_ = || self.where_(i);
        if t.report.failures > ls.failures {
            ls.failures = t.report.failures;
            out.push(point(
                lane,
                EventKind::AllocFailed,
                at,
                format!("allocation failed: {}", where_()),
            ));
        }
        // Waits and sleeps: a wait continues across retries of the lock.
        let now_blocked = if t.done.is_some() {
            None
        } else if let Some(l) = t.waiting_on {
            let holder = self.locks[l]
                .owner
                .map(|o| self.tasks[o].name.as_str())
                .unwrap_or("nobody");
            Some((
                EventKind::WaitLock,
                format!("waits for lock {} held by {holder}", self.locks[l].name),
                Some(l),
            ))
        } else if t.retrying {
            // An allocation blocked on the task's kernel stack (reclaim's
            // I/O, a throttle, a retry's back-off, a mempool wait): one
            // span until it returns.
            Some((
                EventKind::AllocSlept,
                format!(
                    "blocked in the allocator (reclaim, I/O, retries): {}",
                    where_()
                ),
                None,
            ))
        } else if t.wake_at > at.time_ns {
            Some((
                EventKind::Sleep,
                format!(
                    "sleeps {} ({})",
                    crate::html::fmt_ns(t.wake_at - at.time_ns),
                    where_()
                ),
                None,
            ))
        } else {
            None
        };
        let same_wait = match (&ls.blocked, &now_blocked) {
            (Some((EventKind::WaitLock, _, _, a)), Some((EventKind::WaitLock, _, b))) => a == b,
            (Some((EventKind::AllocSlept, ..)), Some((EventKind::AllocSlept, ..))) => true,
            _ => false,
        };
        if !same_wait {
            if let Some((kind, from, detail, _)) = ls.blocked.take() {
                out.push(span(lane, kind, from, before, detail));
            }
            if let Some((kind, detail, l)) = now_blocked {
                ls.blocked = Some((kind, at, detail, l));
            }
        }
        for e in out {
            r.tl.events.push(e);
        }
    }

    fn record_end(&self, r: &mut Recorder, j: usize, o: Outcome, at: At) {
        let ls = &mut r.lanes[j];
        ls.ended = true;
        let mut out = Vec::new();
        if let Some((kind, from, detail, _)) = ls.blocked.take() {
            out.push(span(j, kind, from, at, detail));
        }
        while let Some((from, label)) = ls.scopes.pop() {
            out.push(span(j, EventKind::Scope, from, at, label));
        }
        let word = match o {
            Outcome::Completed => "completed",
            Outcome::Aborted => "aborted",
            Outcome::Stuck => "stuck",
            Outcome::Killed => "killed by the OOM killer",
            Outcome::Unfinished => "unfinished (step bound reached)",
        };
        out.push(point(j, EventKind::End(o), at, format!("ends: {word}")));
        for e in out {
            r.tl.events.push(e);
        }
    }

    fn record_oom(&self, r: &mut Recorder, pick: Option<usize>, at: At) {
        let killer_lane = match pick {
            Some(i) => i,
            None => r.kswapd_lane,
        };
        let mut new = Vec::new();
        for p in self.vm.procs() {
            if p.oom_victim && r.victims.insert(p.pid) {
                new.push(p);
            }
        }
        for p in new {
            r.tl.events.push(point(
                killer_lane,
                EventKind::OomKill,
                at,
                format!("the OOM killer killed {} (pid {})", p.comm, p.pid),
            ));
            if let Some(v) = self.tasks.iter().position(|t| t.pid == p.pid) {
                r.tl.events.push(point(
                    v,
                    EventKind::OomVictim,
                    at,
                    format!("killed by the OOM killer (pid {})", p.pid),
                ));
            }
        }
    }

    /// Ends the recording: places the findings pushed after the last step,
    /// ends every task's lane, closes open spans and samples the end.
    pub(super) fn finish_recording(&mut self) -> Option<Timeline> {
        let mut r = self.timeline.take()?;
        let end = self.at();
        for f in &self.findings[r.findings_seen..] {
            let at = match (f.rule, r.below_low_at) {
                (Rule::KswapdNotWoken, Some(a)) => a,
                _ => At {
                    step: end.step,
                    time_ns: f.time_ns,
                },
            };
            r.tl.finding_at.push(at);
            r.tl.finding_rules.push(f.rule);
        }
        r.findings_seen = self.findings.len();
        for j in 0..self.tasks.len() {
            if !r.lanes[j].ended {
                let o = self.tasks[j].done.unwrap_or(Outcome::Unfinished);
                self.record_end(&mut r, j, o, end);
            }
        }
        self.sample_zones(&mut r, end, true);
        r.tl.clock.sample(end, end.time_ns as i64);
        r.tl.end = end;
        let (a, b) = (self.flow_now(), r.flow0);
        r.tl.flow = PageFlow {
            lru_kswapd: a.lru_kswapd - b.lru_kswapd,
            lru_direct: a.lru_direct - b.lru_direct,
            shrinkers: a.shrinkers - b.shrinkers,
            fs_cache: a.fs_cache - b.fs_cache,
            task_frees: a.task_frees - b.task_frees,
            fs_buffers: a.fs_buffers - b.fs_buffers,
            oom_kills: a.oom_kills - b.oom_kills,
            freed: a.freed - b.freed,
            allocated: a.allocated - b.allocated,
        };
        Some(r.tl)
    }
}

fn point(lane: usize, kind: EventKind, at: At, detail: String) -> Event {
    span(lane, kind, at, at, detail)
}

fn span(lane: usize, kind: EventKind, from: At, to: At, detail: String) -> Event {
    Event {
        lane,
        kind,
        from,
        to,
        count: 1,
        detail,
    }
}
