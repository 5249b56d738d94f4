//! What a mask lets an allocation do, in words, following the decisions of
//! Linux 6.12's page allocator (`gfp_to_alloc_flags()`, the slow path's retry
//! and OOM rules, `warn_alloc()`).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::flags::Gfp;
use crate::zone::{self, PAGE_ALLOC_COSTLY_ORDER};

/// One aspect of an allocation's behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Topic {
    /// Which zones may serve it.
    Zones,
    /// Which free lists (migratetype) it comes from.
    Mobility,
    /// Whether it may sleep.
    Sleep,
    /// kswapd and direct reclaim.
    Reclaim,
    /// Whether reclaim may start I/O.
    Io,
    /// Whether reclaim may call into filesystems.
    Filesystem,
    /// Whether it may compact memory.
    Compaction,
    /// Which watermark it must respect.
    Reserves,
    /// How hard it retries.
    Retries,
    /// What failure means for the caller.
    Failure,
    /// Whether it may invoke the OOM killer.
    OomKiller,
    /// Whether failure is reported.
    Warnings,
    /// Placement: nodes, cpusets, dirty spreading.
    Placement,
    /// Memory-cgroup accounting.
    Accounting,
    /// What is done to the page (zeroing, compound metadata).
    PageSetup,
}

impl Topic {
    /// A short label.
    pub const fn label(self) -> &'static str {
        match self {
            Topic::Zones => "zones",
            Topic::Mobility => "mobility",
            Topic::Sleep => "sleep",
            Topic::Reclaim => "reclaim",
            Topic::Io => "I/O",
            Topic::Filesystem => "FS callbacks",
            Topic::Compaction => "compaction",
            Topic::Reserves => "reserves",
            Topic::Retries => "retries",
            Topic::Failure => "failure",
            Topic::OomKiller => "OOM killer",
            Topic::Warnings => "warnings",
            Topic::Placement => "placement",
            Topic::Accounting => "accounting",
            Topic::PageSetup => "page setup",
        }
    }
}

/// One statement about an allocation.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Fact {
    /// What the statement is about.
    pub topic: Topic,
    /// The statement.
    pub text: String,
}

/// The failure mode of an allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureMode {
    /// Never returns NULL (loops until memory is found).
    NeverFails,
    /// `__GFP_NOFAIL` without `__GFP_DIRECT_RECLAIM`: unsupported; 6.12 warns and fails.
    NofailUnsupported,
    /// Fails at once when the watermark is not met (cannot reclaim).
    FailsFast,
    /// One light attempt, then fails; no OOM killer.
    FailsAfterOneAttempt,
    /// Retries while reclaim makes progress, then fails; no OOM killer.
    FailsWhenNoProgress,
    /// Small default allocation: retries and invokes the OOM killer; in
    /// practice it does not fail unless the task is an OOM victim.
    TooSmallToFail,
    /// Costly order: backs off after limited reclaim and compaction.
    CostlyMayFail,
}

/// How an allocation with a mask behaves.
pub fn failure_mode(gfp: Gfp, order: u32) -> FailureMode {
    let direct = gfp.contains(Gfp::DIRECT_RECLAIM);
    if gfp.contains(Gfp::NOFAIL) {
        return if direct {
            FailureMode::NeverFails
        } else {
            FailureMode::NofailUnsupported
        };
    }
    if !direct {
        FailureMode::FailsFast
    } else if gfp.contains(Gfp::NORETRY) {
        FailureMode::FailsAfterOneAttempt
    } else if gfp.contains(Gfp::RETRY_MAYFAIL) {
        FailureMode::FailsWhenNoProgress
    } else if order > PAGE_ALLOC_COSTLY_ORDER {
        FailureMode::CostlyMayFail
    } else {
        FailureMode::TooSmallToFail
    }
}

/// Whether the slow path may invoke the OOM killer for this allocation
/// (6.12 `__alloc_pages_may_oom()` and `out_of_memory()`): not for costly
/// orders, `__GFP_NORETRY`, `__GFP_RETRY_MAYFAIL`, `__GFP_THISNODE`, lowmem-only
/// requests, nor without `__GFP_FS` (the killer then only pretends progress).
pub fn may_invoke_oom(gfp: Gfp, order: u32) -> bool {
    gfp.contains(Gfp::DIRECT_RECLAIM)
        && gfp.contains(Gfp::FS)
        && order <= PAGE_ALLOC_COSTLY_ORDER
        && !gfp.intersects(Gfp::NORETRY | Gfp::RETRY_MAYFAIL | Gfp::THISNODE)
        && matches!(
            zone::highest_zone(gfp),
            Ok(zone::ZoneType::Normal | zone::ZoneType::HighMem | zone::ZoneType::Movable)
        )
}

/// The name and value of the largest-order limit in `version` (6.12 when
/// unknown) on x86_64's default configuration, as the check in
/// `__alloc_pages()` spells it: `order >= MAX_ORDER` with `MAX_ORDER` 11
/// before 6.4, `order > MAX_ORDER` with an inclusive `MAX_ORDER` of 10 in
/// 6.4 to 6.7 ("mm, treewide: redefine MAX_ORDER sanely"), and
/// `order > MAX_PAGE_ORDER` (10) from 6.8 on (the rename). Every era serves
/// orders 0 to 10.
pub fn max_order_limit(version: Option<crate::profile::KernelVersion>) -> String {
    let max = zone::MAX_PAGE_ORDER;
    match version {
        Some(v) if !v.at_least(6, 4) => format!("MAX_ORDER ({}; orders up to {max})", max + 1),
        Some(v) if !v.at_least(6, 8) => format!("MAX_ORDER ({max})"),
        _ => format!("MAX_PAGE_ORDER ({max})"),
    }
}

/// Everything that matters about an allocation with `gfp` of `order`
/// (order 0 when unknown).
pub fn explain(gfp: Gfp, order: Option<u32>) -> Vec<Fact> {
    explain_in(gfp, order, None)
}

/// [`explain`] in `version` (6.12 when `None`), which only changes how an
/// order above the largest one is reported.
pub fn explain_in(
    gfp: Gfp,
    order: Option<u32>,
    version: Option<crate::profile::KernelVersion>,
) -> Vec<Fact> {
    let o = order.unwrap_or(0);
    if o > zone::MAX_PAGE_ORDER {
        // __alloc_pages(): `if (WARN_ON_ONCE_GFP(order > MAX_PAGE_ORDER, gfp))
        // return NULL;` before anything else (before 6.4: `if (order >=
        // MAX_ORDER) { WARN_ON_ONCE(!(gfp_mask & __GFP_NOWARN)); return NULL; }`).
        return refused_order_facts(gfp, o, version);
    }
    let mut facts = Vec::new();
    let mut say = |topic, text: String| facts.push(Fact { topic, text });
    let direct = gfp.contains(Gfp::DIRECT_RECLAIM);

    say(
        Topic::Zones,
        match zone::highest_zone(gfp) {
            Ok(z) => format!("{} and the zones below it, preferred node first", z.name()),
            Err(e) => format!("{e}: the kernel's gfp_zone() hits VM_BUG_ON"),
        },
    );
    say(
        Topic::Mobility,
        match zone::migratetype(gfp) {
            Some(m) => format!("{} pageblocks", m.name()),
            None => "__GFP_MOVABLE with __GFP_RECLAIMABLE is a caller bug (VM_WARN_ON)".into(),
        },
    );
    say(
        Topic::Sleep,
        if direct {
            "may sleep: must not be called in atomic context".into()
        } else {
            "never sleeps: safe in atomic context".into()
        },
    );
    say(
        Topic::Reclaim,
        match (direct, gfp.contains(Gfp::KSWAPD_RECLAIM)) {
            (true, true) => "wakes kswapd below the low watermark, then reclaims directly".into(),
            (true, false) => "reclaims directly but does not wake kswapd".into(),
            (false, true) => "wakes kswapd below the low watermark; no direct reclaim".into(),
            (false, false) => "no reclaim at all: does not even wake kswapd".into(),
        },
    );
    if direct {
        say(
            Topic::Io,
            if gfp.contains(Gfp::IO) {
                "reclaim may start I/O (swap out anonymous pages)".into()
            } else {
                "reclaim starts no I/O (GFP_NOIO context: no swap-out)".into()
            },
        );
        say(
            Topic::Filesystem,
            if gfp.contains(Gfp::FS) {
                "reclaim may call into filesystems (shrinkers, inode and dentry caches)".into()
            } else {
                "reclaim does not call into filesystems (GFP_NOFS context)".into()
            },
        );
        if o > 0 {
            say(
                Topic::Compaction,
                if zone::compaction_allowed(gfp) {
                    "may compact memory to form the high-order block".into()
                } else {
                    "no compaction (it needs __GFP_IO)".into()
                },
            );
        }
    }
    say(Topic::Reserves, reserves(gfp, o));
    let mode = failure_mode(gfp, o);
    say(Topic::Retries, retries_text(mode, o));
    say(Topic::Failure, failure_text(mode).into());
    say(Topic::OomKiller, oom_killer_text(gfp, o).into());
    say(
        Topic::Warnings,
        if gfp.contains(Gfp::NOWARN) {
            "failure is silent (__GFP_NOWARN)".into()
        } else {
            "failure prints a rate-limited 'page allocation failure' report".into()
        },
    );
    say(Topic::Placement, placement_text(gfp));
    if gfp.contains(Gfp::ACCOUNT) {
        say(
            Topic::Accounting,
            "charged to the task's memory cgroup; may reclaim or OOM inside it".into(),
        );
    }
    if let Some(setup) = page_setup_text(gfp, o) {
        say(Topic::PageSetup, setup);
    }
    facts
}

/// The facts of an order above the largest one in `version`: the page
/// allocator refuses it before anything else.
fn refused_order_facts(
    gfp: Gfp,
    o: u32,
    version: Option<crate::profile::KernelVersion>,
) -> Vec<Fact> {
    let limit = max_order_limit(version);
    alloc::vec![
        Fact {
            topic: Topic::Failure,
            text: format!(
                "order {o} is above {limit}: the page allocator refuses it at once and returns NULL, before any zone, watermark, reclaim or compaction"
            ),
        },
        Fact {
            topic: Topic::Retries,
            text: "none: the request never reaches the slow path (__GFP_NOFAIL does not help)".into(),
        },
        Fact {
            topic: Topic::OomKiller,
            text: "never invokes the OOM killer".into(),
        },
        Fact {
            topic: Topic::Warnings,
            text: if gfp.contains(Gfp::NOWARN) {
                "silent (__GFP_NOWARN suppresses the WARN_ON_ONCE)".into()
            } else {
                "a one-time WARNING with a stack trace (WARN_ON_ONCE), not the rate-limited allocation-failure report; __GFP_NOWARN silences it".into()
            },
        },
    ]
}

/// What the slow path's retry loop does in failure mode `mode` at order `o`.
fn retries_text(mode: FailureMode, o: u32) -> String {
    match mode {
        FailureMode::NeverFails => "loops until it succeeds; may use part of the min reserve as a last resort".into(),
        FailureMode::NofailUnsupported => "cannot loop without direct reclaim".into(),
        FailureMode::FailsFast => "no retries".into(),
        FailureMode::FailsAfterOneAttempt => "one light round of reclaim and compaction".into(),
        FailureMode::FailsWhenNoProgress => "retries while reclaim makes progress anywhere".into(),
        FailureMode::TooSmallToFail => format!("retries up to 16 rounds without progress (MAX_RECLAIM_RETRIES) and after each OOM kill; order {o} is not costly"),
        FailureMode::CostlyMayFail => format!("order {o} is costly (> {PAGE_ALLOC_COSTLY_ORDER}): backs off after limited reclaim and compaction"),
    }
}

/// What failure means for the caller in failure mode `mode`.
fn failure_text(mode: FailureMode) -> &'static str {
    match mode {
        FailureMode::NeverFails => "never fails",
        FailureMode::NofailUnsupported => {
            "__GFP_NOFAIL without __GFP_DIRECT_RECLAIM is unsupported: 6.12 warns and fails"
        }
        FailureMode::FailsFast => {
            "fails at once when the watermark is not met: the caller must handle NULL"
        }
        FailureMode::FailsAfterOneAttempt
        | FailureMode::FailsWhenNoProgress
        | FailureMode::CostlyMayFail => "may fail: the caller must handle NULL",
        FailureMode::TooSmallToFail => {
            "effectively does not fail (unless the task is killed), but callers must still check"
        }
    }
}

/// Whether the allocation may invoke the OOM killer, and why not when it
/// reclaims but may not.
fn oom_killer_text(gfp: Gfp, o: u32) -> &'static str {
    if may_invoke_oom(gfp, o) {
        "may invoke the OOM killer"
    } else if gfp.contains(Gfp::DIRECT_RECLAIM)
        && !gfp.contains(Gfp::FS)
        && o <= PAGE_ALLOC_COSTLY_ORDER
        && !gfp.intersects(Gfp::NORETRY | Gfp::RETRY_MAYFAIL)
    {
        "does not kill: without __GFP_FS the OOM killer only pretends progress, and the allocation keeps retrying"
    } else {
        "never invokes the OOM killer"
    }
}

/// Where the allocation may be placed: nodes, cpusets, dirty spreading.
fn placement_text(gfp: Gfp) -> String {
    let mut placement = Vec::new();
    if gfp.contains(Gfp::THISNODE) {
        placement.push("the preferred node only: no fallback, no mempolicy");
    }
    if gfp.contains(Gfp::HARDWALL) {
        placement.push("held to the task's cpuset nodes");
    } else {
        placement.push("may use the nearest hardwall cpuset ancestor's nodes");
    }
    if gfp.contains(Gfp::WRITE) {
        placement.push("spread over nodes within their dirty limits");
    }
    placement.join("; ")
}

/// What is done to the page (zeroing, compound metadata); `None` when
/// nothing is.
fn page_setup_text(gfp: Gfp, o: u32) -> Option<String> {
    let mut setup = Vec::new();
    if gfp.contains(Gfp::ZERO) {
        setup.push("zeroed");
    }
    if gfp.contains(Gfp::COMP) {
        setup.push(if o > 0 {
            "compound page (head and tail metadata)"
        } else {
            "__GFP_COMP is meaningless at order 0"
        });
    }
    if setup.is_empty() {
        None
    } else {
        Some(setup.join("; "))
    }
}

fn reserves(gfp: Gfp, order: u32) -> String {
    if gfp.contains(Gfp::NOMEMALLOC) {
        return "min watermark; never the emergency reserves (__GFP_NOMEMALLOC overrides PF_MEMALLOC)".into();
    }
    if gfp.contains(Gfp::MEMALLOC) {
        return "no watermarks: all of the emergency reserves".into();
    }
    let non_block = !gfp.contains(Gfp::DIRECT_RECLAIM);
    match (gfp.contains(Gfp::HIGH), non_block) {
        (true, true) => format!(
            "min watermark reduced by 5/8 (__GFP_HIGH and cannot block){}",
            if order > 0 { "; may use high-atomic pageblocks" } else { "" }
        ),
        (true, false) => "min watermark halved (__GFP_HIGH)".into(),
        (false, _) => "min watermark; no access to reserves (PF_MEMALLOC or an OOM-victim task would get more)".into(),
    }
}

/// One line saying what matters about an allocation with `gfp` (and `order`,
/// when known): may it sleep, zones, reserves, failure mode.
pub fn brief(gfp: Gfp, order: Option<u32>) -> String {
    let o = order.unwrap_or(0);
    let mut parts: Vec<String> = Vec::new();
    let direct = gfp.contains(Gfp::DIRECT_RECLAIM);
    parts.push(if direct {
        let mut s = String::from("may sleep; direct reclaim");
        match (gfp.contains(Gfp::IO), gfp.contains(Gfp::FS)) {
            (true, true) => {}
            (true, false) => s.push_str(" without FS"),
            (false, _) => s.push_str(" without I/O or FS"),
        }
        s
    } else {
        String::from("atomic: never sleeps")
    });
    parts.push(match zone::highest_zone(gfp) {
        Ok(z) => format!("zones up to {}", z.name()),
        Err(_) => "invalid zone modifiers".into(),
    });
    if gfp.contains(Gfp::MEMALLOC) && !gfp.contains(Gfp::NOMEMALLOC) {
        parts.push("all reserves".into());
    } else if gfp.contains(Gfp::HIGH) {
        parts.push("may dip into reserves".into());
    }
    parts.push(
        match failure_mode(gfp, o) {
            FailureMode::NeverFails => "never fails",
            FailureMode::NofailUnsupported => "NOFAIL without direct reclaim: warns and fails",
            FailureMode::FailsFast => "fails fast",
            FailureMode::FailsAfterOneAttempt => "one attempt, no OOM",
            FailureMode::FailsWhenNoProgress => "fails when reclaim stalls, no OOM",
            FailureMode::CostlyMayFail => "costly order, may fail",
            FailureMode::TooSmallToFail => {
                if may_invoke_oom(gfp, o) {
                    "retries, OOM killer"
                } else {
                    "retries without OOM kill"
                }
            }
        }
        .into(),
    );
    if gfp.contains(Gfp::NOWARN) {
        parts.push("silent on failure".into());
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_modes() {
        assert_eq!(failure_mode(Gfp::KERNEL, 0), FailureMode::TooSmallToFail);
        assert_eq!(failure_mode(Gfp::KERNEL, 4), FailureMode::CostlyMayFail);
        assert_eq!(failure_mode(Gfp::ATOMIC, 0), FailureMode::FailsFast);
        assert_eq!(
            failure_mode(Gfp::KERNEL | Gfp::NOFAIL, 0),
            FailureMode::NeverFails
        );
        assert_eq!(
            failure_mode(Gfp::NOWAIT | Gfp::NOFAIL, 0),
            FailureMode::NofailUnsupported
        );
        assert_eq!(
            failure_mode(Gfp::KERNEL | Gfp::NORETRY, 0),
            FailureMode::FailsAfterOneAttempt
        );
        assert_eq!(
            failure_mode(Gfp::KERNEL | Gfp::RETRY_MAYFAIL, 9),
            FailureMode::FailsWhenNoProgress
        );
    }

    #[test]
    fn oom_rules() {
        assert!(may_invoke_oom(Gfp::KERNEL, 0));
        assert!(!may_invoke_oom(Gfp::NOFS, 0));
        assert!(!may_invoke_oom(Gfp::KERNEL, 4));
        assert!(!may_invoke_oom(Gfp::KERNEL | Gfp::NORETRY, 0));
        assert!(!may_invoke_oom(Gfp::KERNEL | Gfp::THISNODE, 0));
        assert!(!may_invoke_oom(Gfp::KERNEL | Gfp::DMA32, 0));
        assert!(!may_invoke_oom(Gfp::ATOMIC, 0));
    }

    #[test]
    fn brief_lines() {
        assert_eq!(
            brief(Gfp::KERNEL, Some(0)),
            "may sleep; direct reclaim; zones up to Normal; retries, OOM killer"
        );
        assert_eq!(
            brief(Gfp::ATOMIC, None),
            "atomic: never sleeps; zones up to Normal; may dip into reserves; fails fast"
        );
        assert_eq!(
            brief(Gfp::NOFS | Gfp::NOWARN, Some(2)),
            "may sleep; direct reclaim without FS; zones up to Normal; retries without OOM kill; silent on failure"
        );
        assert!(explain(Gfp::ATOMIC, Some(1))
            .iter()
            .any(|f| f.text.contains("high-atomic")));
    }

    /// An order above the largest is refused at once, with a warning unless
    /// __GFP_NOWARN, named as each era's kernel names the limit.
    #[test]
    fn orders_above_the_largest_are_refused_at_once() {
        use crate::profile::KernelVersion;
        let facts = explain(Gfp::KERNEL, Some(11));
        let text = |facts: &[Fact], t: Topic| {
            facts
                .iter()
                .find(|f| f.topic == t)
                .map(|f| f.text.clone())
                .unwrap_or_default()
        };
        assert!(text(&facts, Topic::Failure).contains("order 11 is above MAX_PAGE_ORDER (10)"));
        assert!(text(&facts, Topic::Failure).contains("refuses it at once"));
        assert!(text(&facts, Topic::Warnings).contains("WARNING"));
        assert!(!facts.iter().any(|f| f.topic == Topic::Compaction));
        let quiet = explain(Gfp::KERNEL | Gfp::NOWARN, Some(11));
        assert!(text(&quiet, Topic::Warnings).starts_with("silent"));
        let old = explain_in(Gfp::KERNEL, Some(11), Some(KernelVersion::new(4, 4)));
        assert!(text(&old, Topic::Failure).contains("above MAX_ORDER (11; orders up to 10)"));
        let mid = explain_in(Gfp::KERNEL, Some(11), Some(KernelVersion::new(6, 6)));
        assert!(text(&mid, Topic::Failure).contains("above MAX_ORDER (10)"));
        // Order 10 is served as before.
        assert!(explain(Gfp::KERNEL, Some(10))
            .iter()
            .any(|f| f.topic == Topic::Compaction));
    }
}
