//! What a simulation did over time, recorded when
//! [`SimConfig::record_timeline`](crate::SimConfig::record_timeline) is set:
//! per zone, free pages and the min/low/high watermarks; reclaim activity
//! (pages scanned and reclaimed by kswapd and by direct reclaim, kswapd
//! wake-ups and runs); and the events a timeline shows (tasks starting,
//! blocking and ending, allocation failures, OOM kills, kswapd waking and
//! sleeping, scopes, and where each detector finding happened).
//!
//! Positions are [`At`]: the scheduler step and the virtual time. Step `s`
//! is the `s`-th operation (or kswapd run); samples taken after it carry
//! `step = s`, the state after filling memory carries `step = 0`.
//!
//! Memory is bounded whatever the run's length, deterministically: series
//! keep at most [`MAX_BUCKETS`] buckets of consecutive steps (an M4 summary
//! each: the first, lowest, highest and last sample, so a dip below a
//! watermark is never averaged away); when full, the bucket width doubles
//! and neighbours merge. Events are merged the same way (same lane and
//! kind within a bucket of steps, counted) when there are more than
//! [`MAX_EVENTS`].

use std::collections::BTreeMap;

use crate::sim::{Outcome, Rule};

/// Most buckets a series keeps (the width doubles past it, so a series
/// holds between half and all of this many).
pub const MAX_BUCKETS: usize = 512;

/// Most events kept before neighbouring events of the same lane and kind
/// are merged.
pub const MAX_EVENTS: usize = 2048;

/// A position in the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct At {
    /// Scheduler steps completed (0: after the fill, before the tasks).
    pub step: u64,
    /// Virtual time in nanoseconds.
    pub time_ns: u64,
}

/// One sample of a series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Point {
    /// When.
    pub at: At,
    /// The value (pages).
    pub value: i64,
}

/// Something a [`Bucketed`] list can merge.
pub trait Merge {
    /// Folds `later` (which comes after `self` in the run) into `self`.
    fn merge(&mut self, later: Self);
}

/// Items kept in buckets of consecutive steps: `bucket = step / width`.
/// Bounded by [`MAX_BUCKETS`]: past it the width doubles and neighbouring
/// buckets merge, deterministically.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bucketed<T> {
    width: u64,
    buckets: Vec<(u64, T)>,
}

impl<T: Merge> Bucketed<T> {
    /// Empty, one step per bucket.
    pub fn new() -> Self {
        Bucketed {
            width: 1,
            buckets: Vec::new(),
        }
    }

    /// Adds `item` recorded at `step` (steps never decrease).
    pub fn push(&mut self, step: u64, item: T) {
        let key = step / self.width;
        match self.buckets.last_mut() {
            Some((k, last)) if *k == key => last.merge(item),
            _ => self.buckets.push((key, item)),
        }
        if self.buckets.len() > MAX_BUCKETS {
            self.widen();
        }
    }

    /// Doubles the width, merging pairs of neighbouring buckets.
    fn widen(&mut self) {
        self.width = self.width.saturating_mul(2);
        let old = std::mem::take(&mut self.buckets);
        for (k, item) in old {
            let key = k / 2;
            match self.buckets.last_mut() {
                Some((lk, last)) if *lk == key => last.merge(item),
                _ => self.buckets.push((key, item)),
            }
        }
    }

    /// Steps per bucket.
    pub fn width(&self) -> u64 {
        self.width
    }

    /// The buckets in order.
    pub fn items(&self) -> impl Iterator<Item = &T> {
        self.buckets.iter().map(|(_, t)| t)
    }

    /// Number of buckets.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

impl<T: Merge> Default for Bucketed<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// The M4 summary of a series within a bucket: first, lowest, highest and
/// last sample. Drawing these four per pixel column draws the same picture
/// as drawing every sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct M4 {
    /// The first sample.
    pub first: Point,
    /// The lowest sample (the earliest of equals).
    pub min: Point,
    /// The highest sample (the earliest of equals).
    pub max: Point,
    /// The last sample.
    pub last: Point,
}

impl M4 {
    /// One sample.
    pub fn new(p: Point) -> M4 {
        M4 {
            first: p,
            min: p,
            max: p,
            last: p,
        }
    }
}

impl Merge for M4 {
    fn merge(&mut self, later: M4) {
        if later.min.value < self.min.value {
            self.min = later.min;
        }
        if later.max.value > self.max.value {
            self.max = later.max;
        }
        self.last = later.last;
    }
}

/// A series of samples taken when the value changed (and at the start and
/// the end): between two samples the value held.
pub type Series = Bucketed<M4>;

impl Bucketed<M4> {
    /// Records `value` at `at`.
    pub fn sample(&mut self, at: At, value: i64) {
        self.push(at.step, M4::new(Point { at, value }));
    }

    /// The kept samples in run order (first, lowest, highest, last of each
    /// bucket, sorted by position, duplicates removed).
    pub fn points(&self) -> Vec<Point> {
        let mut out: Vec<Point> = Vec::with_capacity(self.len() * 4);
        for m in self.items() {
            let mut four = [m.first, m.min, m.max, m.last];
            four.sort_by_key(|p| p.at);
            for p in four {
                if out.last() != Some(&p) {
                    out.push(p);
                }
            }
        }
        out
    }

    /// The lowest and highest value kept.
    pub fn range(&self) -> Option<(i64, i64)> {
        let lo = self.items().map(|m| m.min.value).min()?;
        let hi = self.items().map(|m| m.max.value).max()?;
        Some((lo, hi))
    }
}

/// One zone's free pages and watermarks over the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneSeries {
    /// The zone's node.
    pub nid: usize,
    /// The zone's name (`DMA`, `Normal`, ...).
    pub zone: &'static str,
    /// Managed pages.
    pub managed_pages: u64,
    /// `NR_FREE_PAGES`: pages on the buddy lists, the count the watermark
    /// checks compare.
    pub free: Series,
    /// `NR_FREE_PAGES` plus the pages on the per-CPU lists (free too, but
    /// not counted by the watermark checks).
    pub free_pcp: Series,
    /// The min, low and high watermarks (they move with tunables).
    pub watermarks: [Series; 3],
}

/// Reclaim counters over an interval.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReclaimCounts {
    /// Pages scanned by kswapd (`pgscan_kswapd`).
    pub scanned_kswapd: u64,
    /// Pages reclaimed by kswapd (`pgsteal_kswapd`).
    pub reclaimed_kswapd: u64,
    /// Pages scanned by direct reclaim (`pgscan_direct`).
    pub scanned_direct: u64,
    /// Pages reclaimed by direct reclaim (`pgsteal_direct`).
    pub reclaimed_direct: u64,
    /// kswapd wake-up requests (`wakeup_kswapd()` calls).
    pub kswapd_wakeups: u64,
    /// kswapd runs.
    pub kswapd_runs: u64,
    /// Pages freed other than by LRU reclaim: the shrinkers (the
    /// filesystem's caches among them), the tasks' frees, the filesystem's
    /// writeback buffers, OOM kills (the fields of [`PageFlow`]).
    pub freed_shrinkers: u64,
    /// Of `freed_shrinkers`, the filesystem's caches.
    pub freed_fs_cache: u64,
    /// Pages the tasks freed.
    pub freed_tasks: u64,
    /// The filesystem's writeback buffers freed.
    pub freed_fs_buffers: u64,
    /// Pages the OOM killer freed.
    pub freed_oom: u64,
}

impl ReclaimCounts {
    /// Adds every counter of `b` (an interval that follows or overlaps).
    pub fn add(&mut self, b: &ReclaimCounts) {
        self.scanned_kswapd += b.scanned_kswapd;
        self.reclaimed_kswapd += b.reclaimed_kswapd;
        self.scanned_direct += b.scanned_direct;
        self.reclaimed_direct += b.reclaimed_direct;
        self.kswapd_wakeups += b.kswapd_wakeups;
        self.kswapd_runs += b.kswapd_runs;
        self.freed_shrinkers += b.freed_shrinkers;
        self.freed_fs_cache += b.freed_fs_cache;
        self.freed_tasks += b.freed_tasks;
        self.freed_fs_buffers += b.freed_fs_buffers;
        self.freed_oom += b.freed_oom;
    }

    /// Pages freed other than by LRU reclaim.
    pub fn freed_other(&self) -> u64 {
        self.freed_shrinkers + self.freed_tasks + self.freed_fs_buffers + self.freed_oom
    }

    /// Whether every counter is zero.
    pub fn is_zero(&self) -> bool {
        *self == ReclaimCounts::default()
    }
}

/// Reclaim activity within a bucket of steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Activity {
    /// Where the first step with activity in the bucket began (the step
    /// before it ended).
    pub from: At,
    /// Where the last step with activity in the bucket ended.
    pub to: At,
    /// What happened.
    pub counts: ReclaimCounts,
}

impl Merge for Activity {
    fn merge(&mut self, later: Activity) {
        self.to = later.to;
        self.counts.add(&later.counts);
    }
}

/// A timeline lane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lane {
    /// The task's name, or `kswapdN`.
    pub name: String,
    /// `Some(node)` for kswapd's lane.
    pub kswapd_node: Option<usize>,
}

/// What an [`Event`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// The task ran its first operation.
    Start,
    /// The task ended.
    End(Outcome),
    /// Span: the task waited for a sleeping lock.
    WaitLock,
    /// Span: the task slept (`sleep`, I/O).
    Sleep,
    /// Span: an allocation blocked on the task's kernel stack (reclaim's
    /// I/O, throttling, retry waits, a mempool wait), until it returned.
    AllocSlept,
    /// An allocation failed.
    AllocFailed,
    /// The task's allocation invoked the OOM killer, which killed a victim.
    OomKill,
    /// The task was chosen and killed by the OOM killer.
    OomVictim,
    /// Span: the task was inside a scope.
    Scope,
    /// kswapd was woken (on its lane; the detail names the waker).
    KswapdWake,
    /// Span: kswapd ran (`balance_pgdat()`).
    KswapdRun,
    /// kswapd went back to sleep.
    KswapdSleep,
}

impl EventKind {
    /// A distinct number per kind (and per outcome for [`EventKind::End`]):
    /// events merge only with events of the same key.
    fn key(self) -> u8 {
        match self {
            EventKind::Start => 0,
            EventKind::End(Outcome::Completed) => 1,
            EventKind::End(Outcome::Aborted) => 2,
            EventKind::End(Outcome::Stuck) => 3,
            EventKind::End(Outcome::Unfinished) => 4,
            EventKind::WaitLock => 5,
            EventKind::Sleep => 6,
            EventKind::AllocSlept => 7,
            EventKind::AllocFailed => 8,
            EventKind::OomKill => 9,
            EventKind::OomVictim => 10,
            EventKind::Scope => 11,
            EventKind::KswapdWake => 12,
            EventKind::KswapdRun => 13,
            EventKind::KswapdSleep => 14,
            EventKind::End(Outcome::Killed) => 15,
        }
    }

    /// Whether the event covers an interval.
    pub fn is_span(self) -> bool {
        matches!(
            self,
            EventKind::WaitLock
                | EventKind::Sleep
                | EventKind::AllocSlept
                | EventKind::Scope
                | EventKind::KswapdRun
        )
    }
}

/// Something that happened on a lane: a point (`from == to`) or a span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Index into [`Timeline::lanes`].
    pub lane: usize,
    /// What.
    pub kind: EventKind,
    /// Start.
    pub from: At,
    /// End (the same as `from` for point events).
    pub to: At,
    /// How many events this one stands for (more than 1 after merging).
    pub count: u64,
    /// Detail for the tooltip (of the first event when merged).
    pub detail: String,
}

/// The timeline's events, bounded by [`MAX_EVENTS`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Events {
    list: Vec<Event>,
    /// Steps per merge bucket (1 until the first merge).
    width: u64,
    /// Merge when the list grows past this: [`MAX_EVENTS`], or twice what
    /// the last merge left when it could not get below half of that (many
    /// lanes), so merging stays amortised.
    limit: usize,
}

impl Events {
    /// Adds an event (events arrive in run order of their start, or of
    /// their end for spans).
    pub fn push(&mut self, e: Event) {
        self.list.push(e);
        if self.list.len() > self.limit.max(MAX_EVENTS) {
            self.merge_until_small();
            self.limit = (2 * self.list.len()).max(MAX_EVENTS);
        }
    }

    /// Merges events of the same lane and kind whose start falls in one
    /// bucket of steps: first at the current bucket width (events that
    /// arrived since the last merge join their bucket), then doubling it
    /// until at most half of [`MAX_EVENTS`] remain (or one bucket spans the
    /// whole run).
    fn merge_until_small(&mut self) {
        let last_step = self.list.iter().map(|e| e.to.step).max().unwrap_or(0);
        self.width = self.width.max(1);
        let mut first = true;
        loop {
            if !first {
                self.width = self.width.saturating_mul(2);
            }
            first = false;
            let mut out: Vec<Event> = Vec::with_capacity(self.list.len());
            let mut index: BTreeMap<(usize, u8, u64), usize> = BTreeMap::new();
            for e in std::mem::take(&mut self.list) {
                let key = (e.lane, e.kind.key(), e.from.step / self.width);
                match index.get(&key) {
                    Some(&i) => {
                        let m = &mut out[i];
                        m.count += e.count;
                        m.from = m.from.min(e.from);
                        m.to = m.to.max(e.to);
                    }
                    None => {
                        index.insert(key, out.len());
                        out.push(e);
                    }
                }
            }
            self.list = out;
            if self.list.len() <= MAX_EVENTS / 2 || self.width > last_step {
                break;
            }
        }
    }

    /// The events, in the order recorded (merged events where the first
    /// of them was).
    pub fn list(&self) -> &[Event] {
        &self.list
    }

    /// Steps per merge bucket: 1 when nothing was merged.
    pub fn merge_width(&self) -> u64 {
        self.width.max(1)
    }
}

/// Everything recorded over one run, for [`crate::html`] (or any other
/// view). Deterministic: the same scenario and seed give an equal value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeline {
    /// The machine, in words.
    pub machine: String,
    /// Memory filled before the tasks ran, in words (`kernel`, ...).
    pub fills: Vec<String>,
    /// Per zone with managed pages, in the machine's order.
    pub zones: Vec<ZoneSeries>,
    /// Reclaim activity (buckets with any activity only).
    pub activity: Bucketed<Activity>,
    /// Virtual time by step (a sample where time moved).
    pub clock: Series,
    /// The lanes: each task in declaration order, then kswapd per node.
    pub lanes: Vec<Lane>,
    /// Task and kswapd events.
    pub events: Events,
    /// Where each of the report's findings happened (same order as
    /// [`crate::Report::findings`]); a finding's lane is its task's.
    pub finding_at: Vec<At>,
    /// The rule of each finding (same order), kept to check the pairing.
    pub finding_rules: Vec<Rule>,
    /// The end of the run.
    pub end: At,
    /// Steps that ended at a later virtual time than the step before (a
    /// hint for the x axis: when most steps happen at the same instant as
    /// their predecessor, time says little and steps say more).
    pub timed_steps: u64,
    /// Where the pages freed during the run came from, and what the
    /// allocations took.
    pub flow: PageFlow,
}

/// The pages freed during the run, by source, and the pages allocated
/// (the machine's `pgfree` and `pgalloc_*` over the run): the free pages
/// (buddy plus per-CPU lists) rise by `freed - allocated`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageFlow {
    /// LRU pages kswapd reclaimed (`pgsteal_kswapd`).
    pub lru_kswapd: u64,
    /// LRU pages direct reclaim reclaimed (`pgsteal_direct`).
    pub lru_direct: u64,
    /// Pages the shrinkers freed (`slabs_scanned` here), the filesystem's
    /// caches included.
    pub shrinkers: u64,
    /// Of `shrinkers`, the filesystem's caches.
    pub fs_cache: u64,
    /// Pages the tasks freed.
    pub task_frees: u64,
    /// Pages the filesystem's reclaim path allocated for its writeback and
    /// freed again (in `allocated` too).
    pub fs_buffers: u64,
    /// Pages the OOM killer freed from its victims.
    pub oom_kills: u64,
    /// All pages freed (`pgfree`).
    pub freed: u64,
    /// All pages allocated (`pgalloc_*`).
    pub allocated: u64,
}

impl PageFlow {
    /// The sum of the sources.
    pub fn sources(&self) -> u64 {
        self.lru_kswapd
            + self.lru_direct
            + self.shrinkers
            + self.task_frees
            + self.fs_buffers
            + self.oom_kills
    }
}

impl Timeline {
    /// The lane of task `name`.
    pub fn task_lane(&self, name: &str) -> Option<usize> {
        self.lanes
            .iter()
            .position(|l| l.kswapd_node.is_none() && l.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(step: u64) -> At {
        At {
            step,
            time_ns: step * 10,
        }
    }

    #[test]
    fn series_stays_bounded_and_keeps_extremes() {
        let mut s = Series::new();
        // A sawtooth with one deep dip in the middle.
        for step in 0..100_000u64 {
            let v = if step == 54_321 {
                -5
            } else {
                (step % 97) as i64
            };
            s.sample(at(step), v);
        }
        assert!(s.len() <= MAX_BUCKETS, "{}", s.len());
        assert!(s.len() > MAX_BUCKETS / 2, "{}", s.len());
        assert!(s.width() > 1);
        let pts = s.points();
        assert!(pts.windows(2).all(|w| w[0].at <= w[1].at));
        // The dip survives decimation at its own step.
        assert!(pts.iter().any(|p| p.value == -5 && p.at.step == 54_321));
        assert_eq!(s.range(), Some((-5, 96)));
        assert_eq!(pts.first().map(|p| p.at.step), Some(0));
        assert_eq!(pts.last().map(|p| p.at.step), Some(99_999));
    }

    #[test]
    fn short_series_keep_every_sample() {
        let mut s = Series::new();
        for (i, v) in [5, 3, 8, 8, 1].into_iter().enumerate() {
            s.sample(at(i as u64), v);
        }
        let vals: Vec<i64> = s.points().iter().map(|p| p.value).collect();
        assert_eq!(vals, [5, 3, 8, 8, 1]);
    }

    #[test]
    fn events_merge_by_lane_and_kind_and_keep_counts() {
        let mut ev = Events::default();
        let n = 10_000u64;
        for step in 0..n {
            ev.push(Event {
                lane: (step % 2) as usize,
                kind: EventKind::AllocFailed,
                from: at(step),
                to: at(step),
                count: 1,
                detail: format!("#{step}"),
            });
        }
        assert!(ev.list().len() <= MAX_EVENTS, "{}", ev.list().len());
        assert!(ev.merge_width() > 1);
        // Only as wide as needed: about (events / kept) steps, never past
        // the run's length.
        assert!(
            ev.merge_width() <= 8 * n / MAX_EVENTS as u64,
            "{}",
            ev.merge_width()
        );
        assert!(ev.list().len() >= MAX_EVENTS / 8, "{}", ev.list().len());
        let total: u64 = ev.list().iter().map(|e| e.count).sum();
        assert_eq!(total, n);
        for lane in 0..2 {
            let c: u64 = ev
                .list()
                .iter()
                .filter(|e| e.lane == lane)
                .map(|e| e.count)
                .sum();
            assert_eq!(c, n / 2);
        }
        // The first event keeps its own detail.
        assert_eq!(ev.list()[0].detail, "#0");
    }
}
