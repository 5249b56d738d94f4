//! The OOM killer (mm/oom_kill.c): invoked by the slow path where 6.12
//! invokes it, and by memcg charges inside a group. Picks the task with
//! the highest badness (resident pages + swap entries + page tables, plus
//! `oom_score_adj` thousandths of the memory), prints the kernel's report,
//! frees the victim's memory at once (the OOM reaper's work) and marks it
//! a victim, which lets it use part of the reserves.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use gfp::Gfp;

use crate::env::LogLevel;
use crate::hooks::OomControl;
use crate::machine::{Cx, Machine};
use crate::memcg::{MemcgEvent, MemcgId};
use crate::nodemask::NodeMask;
use crate::sync::Ordering;
use crate::vm::{Pid, ProcInfo, Stat, Vm, VmState};

/// `OOM_SCORE_ADJ_MIN`: never killed.
pub const OOM_SCORE_ADJ_MIN: i16 = -1000;
/// `OOM_SCORE_ADJ_MAX`.
pub const OOM_SCORE_ADJ_MAX: i16 = 1000;

/// `oom_badness()`: `None` for tasks that may not be killed.
pub fn oom_badness(p: &ProcInfo, totalpages: u64) -> Option<i64> {
    if p.oom_score_adj == OOM_SCORE_ADJ_MIN || p.exited || p.oom_victim {
        return None;
    }
    let points = (p.rss() + p.swapents + p.pgtables_bytes / crate::PAGE_SIZE as u64) as i64;
    Some(points + p.oom_score_adj as i64 * (totalpages / 1000) as i64)
}

impl Vm {
    /// `out_of_memory()` for the page allocator.
    pub(crate) fn out_of_memory_global(&self, m: &Machine, cx: &Cx<'_>, oc: &OomControl) -> bool {
        self.stats.add(Stat::OomCalls, 1);
        // task_will_free_mem(current): an exiting task gets the reserves.
        if cx.task.exiting {
            self.mark_victim(cx.task.pid);
            return true;
        }
        // No compensation for IO-less reclaim: pretend progress.
        if !oc.gfp.contains(Gfp::FS) {
            return true;
        }
        self.oom_kill(m, cx, oc.gfp, oc.order, oc.nodemask, None)
    }

    /// `mem_cgroup_out_of_memory()`: kills inside `memcg`'s subtree.
    pub(crate) fn mem_cgroup_oom(
        &self,
        m: &Machine,
        cx: &Cx<'_>,
        memcg: MemcgId,
        gfp: Gfp,
        order: u32,
    ) -> bool {
        self.state.lock().memcg.memory_event(memcg, MemcgEvent::Oom);
        self.stats.add(Stat::OomCalls, 1);
        self.oom_kill(m, cx, gfp, order, None, Some(memcg))
    }

    fn mark_victim(&self, pid: Pid) {
        if let Some(p) = self.state.lock().procs.get_mut(&pid) {
            p.oom_victim = true;
            self.any_oom_victim.store(true, Ordering::Release);
        }
    }

    /// `oom_kill_process()` once the victim `v` is chosen and reported:
    /// the kill, the whole group's for `memory.oom.group`, then the
    /// reaper's work on every killed task. `memcg`: the group whose limit
    /// was hit (`None`: a global OOM).
    fn oom_kill_process(
        &self,
        m: &Machine,
        cx: &Cx<'_>,
        st: &mut VmState,
        v: &ProcInfo,
        memcg: Option<MemcgId>,
        lines: &mut Vec<(LogLevel, String)>,
    ) {
        let message = if memcg.is_some() {
            "Memory cgroup out of memory"
        } else {
            "Out of memory"
        };
        // oom_kill_process(): the group to kill whole is looked up before
        // the victim is killed.
        let oom_group = st
            .memcg
            .get_oom_group(v.memcg, memcg.unwrap_or(MemcgId::ROOT));
        self.kill_task(st, v.pid, message, lines);
        let mut killed = alloc::vec![v.pid];
        if let Some(g) = oom_group {
            st.memcg.memory_event(g, MemcgEvent::OomGroupKill);
            lines.push((
                LogLevel::Info,
                format!(
                    "Tasks in {} are going to be killed due to memory.oom.group set",
                    st.memcg.path(g)
                ),
            ));
            // mem_cgroup_scan_tasks() with oom_kill_memcg_member(): every
            // task of the group's subtree but the unkillable ones. The
            // victim is among them: its memory is not reaped yet, so it is
            // killed (and counted) a second time, as in 6.12.
            for pid in oom_group_members(st, g) {
                self.kill_task(st, pid, message, lines);
                if !killed.contains(&pid) {
                    killed.push(pid);
                }
            }
        }
        // The OOM reaper, once per killed task, after the kills.
        for pid in killed {
            let freed = self.release_task_memory(m, cx, st, pid);
            self.stats.add(Stat::OomFreed, freed);
            let Some(p) = st.procs.get_mut(&pid) else {
                continue;
            };
            p.exited = true;
            lines.push((
                LogLevel::Info,
                format!(
                    "oom_reaper: reaped process {} ({}), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB",
                    p.pid, p.comm
                ),
            ));
        }
    }

    /// `__oom_kill_process()`: counts the kill (`oom_kill`, and the
    /// task's group's `oom_kill` event), marks the task a victim and prints
    /// the "Killed process" line; its memory is left to the reaper.
    fn kill_task(
        &self,
        st: &mut VmState,
        pid: Pid,
        message: &str,
        lines: &mut Vec<(LogLevel, String)>,
    ) {
        let Some(p) = st.procs.get_mut(&pid) else {
            return;
        };
        p.oom_victim = true;
        self.any_oom_victim.store(true, Ordering::Release);
        let p = p.clone();
        lines.push((LogLevel::Err, format!(
            "{message}: Killed process {} ({}) total-vm:{}kB, anon-rss:{}kB, file-rss:{}kB, shmem-rss:0kB, UID:0 pgtables:{}kB oom_score_adj:{}",
            p.pid,
            p.comm,
            (p.rss() + p.swapents) * 4,
            p.rss_anon * 4,
            p.rss_file * 4,
            p.pgtables_bytes / 1024,
            p.oom_score_adj
        )));
        // memcg_memory_event_mm(MEMCG_OOM_KILL), in the task's group,
        // global OOM kills included.
        st.memcg.memory_event(p.memcg, MemcgEvent::OomKill);
        self.stats.add(Stat::OomKill, 1);
    }

    fn oom_kill(
        &self,
        m: &Machine,
        cx: &Cx<'_>,
        gfp: Gfp,
        order: u32,
        nodemask: Option<NodeMask>,
        memcg: Option<MemcgId>,
    ) -> bool {
        let cx = self.cx(cx);
        let mut st = self.state.lock();
        let (constraint, limited) = constrained_alloc(m, &cx.task, gfp, nodemask, memcg.is_some());
        let totalpages = match (memcg, limited) {
            (Some(mc), _) => st
                .memcg
                .get(mc)
                .map_or(self.total_pages, |g| g.max.min(self.total_pages)),
            (None, Some(pages)) => pages,
            (None, None) => self.total_pages,
        } + self.config.swap_pages;
        let in_scope = |p: &ProcInfo| memcg.is_none_or(|mc| st.memcg.is_descendant(p.memcg, mc));
        // select_bad_process(): ties go to the later task, as in the kernel.
        let mut chosen: Option<(Pid, i64)> = None;
        for p in st.procs.values() {
            if !in_scope(p) {
                continue;
            }
            let Some(points) = oom_badness(p, totalpages) else {
                continue;
            };
            if chosen.is_none_or(|(_, best)| points >= best) {
                chosen = Some((p.pid, points));
            }
        }
        let adj = st.procs.get(&cx.task.pid).map_or(0, |p| p.oom_score_adj);
        let comm = match st.procs.get(&cx.task.pid) {
            Some(p) => p.comm.clone(),
            None => cx.comm(),
        };
        let mut lines: Vec<(LogLevel, String)> = Vec::new();
        lines.push((
            LogLevel::Warning,
            format!(
                "{comm} invoked oom-killer: gfp_mask={:#x}({}), order={order}, oom_score_adj={adj}",
                gfp.bits(),
                crate::report::pgg(gfp)
            ),
        ));
        match memcg {
            Some(mc) => lines.extend(mem_cgroup_print_oom_meminfo(&st, mc)),
            None => {
                // dump_header(): show_mem filtered to the request's nodes
                // (the task's mems_allowed without a nodemask) and zones.
                drop(st);
                lines.extend(
                    m.show_mem_lines(
                        Some(nodemask.unwrap_or(cx.task.mems_allowed)),
                        gfp::zone::highest_zone(gfp).unwrap_or(gfp::zone::ZoneType::Movable),
                    )
                    .into_iter()
                    .map(|l| (LogLevel::Warning, l)),
                );
                st = self.state.lock();
            }
        }
        lines.push((
            LogLevel::Info,
            "Tasks state (memory values in pages):".into(),
        ));
        lines.push((LogLevel::Info, "[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents oom_score_adj name".into()));
        for p in st.procs.values() {
            if p.exited || !memcg.is_none_or(|mc| st.memcg.is_descendant(p.memcg, mc)) {
                continue;
            }
            lines.push((
                LogLevel::Info,
                format!(
                    "[{:7}] {:5} {:5} {:8} {:8} {:8} {:8} {:9} {:8} {:8}         {:5} {}",
                    p.pid,
                    0,
                    p.pid,
                    p.rss() + p.swapents,
                    p.rss(),
                    p.rss_anon,
                    p.rss_file,
                    0,
                    p.pgtables_bytes,
                    p.swapents,
                    p.oom_score_adj,
                    p.comm
                ),
            ));
        }
        let Some((victim, _)) = chosen else {
            drop(st);
            for (level, l) in &lines {
                cx.env.log(*level, l);
            }
            cx.env.log(
                LogLevel::Warning,
                "Out of memory and no killable processes...",
            );
            return false;
        };
        let v = st.procs[&victim].clone();
        let task_memcg = st.memcg.path(v.memcg);
        // dump_oom_victim(): the request's nodemask and the current task's
        // cpuset and mems_allowed (cpuset_print_current_mems_allowed()).
        let nodemask_text = match nodemask {
            Some(n) => format!("{n}"),
            None => "(null)".into(),
        };
        let cpuset = m.cpuset_name(cx.task.cpuset);
        lines.push((LogLevel::Info, format!(
            "oom-kill:constraint={},nodemask={nodemask_text},cpuset={cpuset},mems_allowed={},{},task_memcg={task_memcg},task={},pid={},uid=0",
            constraint,
            m.mems_allowed_of(&cx.task),
            match memcg {
                Some(mc) => format!("oom_memcg={}", st.memcg.path(mc)),
                None => "global_oom".into(),
            },
            v.comm,
            v.pid
        )));
        self.oom_kill_process(m, &cx, &mut st, &v, memcg, &mut lines);
        drop(st);
        for (level, l) in &lines {
            cx.env.log(*level, l);
        }
        true
    }
}

/// `mem_cgroup_print_oom_meminfo()` on cgroup v2: the memory counter, the
/// swap counter (the pages of the group's tasks out on swap; `swap.max` is
/// not modelled, so its limit is the counter's maximum), then the group's
/// `memory.stat`, a line at a time at the same level
/// (`seq_buf_do_printk(KERN_INFO)`).
fn mem_cgroup_print_oom_meminfo(st: &VmState, mc: MemcgId) -> Vec<(LogLevel, String)> {
    let mut lines = Vec::new();
    let Some(g) = st.memcg.get(mc) else {
        return lines;
    };
    let swapped: u64 = st
        .procs
        .values()
        .filter(|p| !p.exited && st.memcg.is_descendant(p.memcg, mc))
        .map(|p| p.swapents)
        .sum();
    lines.push((
        LogLevel::Info,
        format!(
            "memory: usage {}kB, limit {}kB, failcnt {}",
            g.usage * 4,
            g.max.min(PAGE_COUNTER_MAX) * 4,
            g.failcnt
        ),
    ));
    lines.push((
        LogLevel::Info,
        format!(
            "swap: usage {}kB, limit {}kB, failcnt 0",
            swapped * 4,
            PAGE_COUNTER_MAX * 4
        ),
    ));
    lines.push((
        LogLevel::Info,
        format!("Memory cgroup stats for {}:", st.memcg.path(mc)),
    ));
    lines.extend(
        crate::memcg::memory_stat_entries(st, mc)
            .into_iter()
            .map(|(name, v)| (LogLevel::Info, format!("{name} {v}"))),
    );
    lines
}

/// The tasks `mem_cgroup_scan_tasks()` visits in `group`'s subtree
/// (groups in pre-order, each group's tasks in pid order) that
/// `oom_kill_memcg_member()` kills: those not `OOM_SCORE_ADJ_MIN`. Tasks
/// that have exited are no longer in a group.
fn oom_group_members(st: &VmState, group: MemcgId) -> Vec<Pid> {
    let mut out = Vec::new();
    for g in st.memcg.subtree_preorder(group) {
        out.extend(
            st.procs
                .values()
                .filter(|p| p.memcg == g && !p.exited && p.oom_score_adj != OOM_SCORE_ADJ_MIN)
                .map(|p| p.pid),
        );
    }
    out
}

/// `PAGE_COUNTER_MAX`: a page counter's "max", `LONG_MAX / PAGE_SIZE` pages
/// on 64-bit (what an unlimited `memory.max` prints as, in kB, times 4).
const PAGE_COUNTER_MAX: u64 = (i64::MAX as u64) / 4096;

/// `constrained_alloc()`: why the allocation found no memory, and, for a
/// cpuset or memory policy, the pages of the nodes it may use (the kernel's
/// `totalpages` less swap, which the badness of `oom_score_adj` scales by).
/// A memory cgroup's limit; else nothing narrower than the machine for a
/// `__GFP_THISNODE` request; a nodemask that leaves out a node with memory
/// is a memory policy; a zone the request could use that the task's cpuset
/// refuses is the cpuset.
fn constrained_alloc(
    m: &Machine,
    task: &crate::Task<'_>,
    gfp: Gfp,
    nodemask: Option<NodeMask>,
    memcg: bool,
) -> (&'static str, Option<u64>) {
    if memcg {
        return ("CONSTRAINT_MEMCG", None);
    }
    if gfp.contains(Gfp::THISNODE) {
        return ("CONSTRAINT_NONE", None);
    }
    let pages_of = |allowed: &dyn Fn(crate::nodemask::NodeId) -> bool| -> u64 {
        m.zones()
            .iter()
            .filter(|z| allowed(z.nid))
            .map(|z| u64::from(z.pages))
            .sum()
    };
    let has_memory = |nid| m.zones().iter().any(|z| z.nid == nid && z.pages > 0);
    if let Some(nm) = nodemask {
        if (0..m.nr_nodes()).any(|nid| has_memory(nid) && !nm.contains(nid)) {
            return (
                "CONSTRAINT_MEMORY_POLICY",
                Some(pages_of(&|nid| nm.contains(nid))),
            );
        }
    }
    let Ok(highest) = gfp::zone::highest_zone(gfp) else {
        return ("CONSTRAINT_NONE", None);
    };
    let cpuset_limited = m.cpusets_enabled()
        && m.zones().iter().any(|z| {
            z.ztype as usize <= highest as usize
                && nodemask.is_none_or(|nm| nm.contains(z.nid))
                && !m.cpuset_node_allowed(task, z.nid, gfp)
        });
    if cpuset_limited {
        let mems = m.mems_allowed_of(task);
        return (
            "CONSTRAINT_CPUSET",
            Some(pages_of(&|nid| mems.contains(nid))),
        );
    }
    ("CONSTRAINT_NONE", None)
}
