//! The declarations' readers: one function per declaration keyword, each
//! given its line (and what is already declared of its kind) and returning
//! what it declares.

use super::parser::Parser;
use super::tokens::{err, name_tok, new_name, num_tok, order_opt, Line, Tok};
use super::{
    CpusetDecl, DeviceDecl, DeviceKind, FailMode, Fill, FillDecl, Function, LockDecl, LockKind,
    MachineDecl, MemcgDecl, MempoolDecl, ParseError, PcpSizing, TaskContextKind, TaskDecl,
    DEFAULT_POOL_MIN, MAX_POOL_MIN, MAX_TASKS, PRESETS,
};

/// A `name NAME` line (at most one); `seen` tracks it.
pub(super) fn name_decl<'a>(
    p: &Parser<'a>,
    l: &Line<'a>,
    seen: &mut bool,
) -> Result<String, ParseError> {
    let t0 = l.toks[0];
    p.arity(l, 2, "name NAME")?;
    if *seen {
        return err(t0.line, t0.col, "second `name` line");
    }
    *seen = true;
    name_tok(&l.toks[1], "scenario name")
}

/// A `machine PRESET` or `machine pages=N [pcp=small|kernel]` line (at
/// most one); `seen` tracks it.
pub(super) fn machine_decl<'a>(
    p: &Parser<'a>,
    l: &Line<'a>,
    seen: &mut bool,
) -> Result<MachineDecl, ParseError> {
    let t0 = l.toks[0];
    let usage = "machine PRESET | machine pages=N [pcp=small|kernel]";
    let pcp = match l.toks.get(2) {
        Some(t) if l.toks[1].text.starts_with("pages=") => {
            p.arity(l, 3, usage)?;
            match t.text.strip_prefix("pcp=") {
                Some("small") => PcpSizing::Small,
                Some("kernel") => PcpSizing::Kernel,
                _ => {
                    return err(
                        t.line,
                        t.col,
                        format!("unexpected `{}`: expected pcp=small or pcp=kernel", t.text),
                    )
                }
            }
        }
        _ => {
            p.arity(l, 2, usage)?;
            PcpSizing::Small
        }
    };
    if *seen {
        return err(t0.line, t0.col, "second `machine` line");
    }
    *seen = true;
    let t = l.toks[1];
    if let Some(v) = t.text.strip_prefix("pages=") {
        let n: u32 = num_tok(&t, v, "page count")?;
        if n == 0 || n % 32 != 0 || n > 1 << 24 {
            return err(
                t.line,
                t.col,
                format!("pages={n}: need a positive multiple of 32 up to 16777216"),
            );
        }
        Ok(MachineDecl::Pages(n, pcp))
    } else if PRESETS.contains(&t.text) {
        Ok(MachineDecl::Preset(t.text.to_string()))
    } else {
        err(
            t.line,
            t.col,
            format!(
                "unknown machine `{}`: expected pages=N or one of {}",
                t.text,
                PRESETS.join(", ")
            ),
        )
    }
}

/// A `fill KIND [node=N] [owner=NAME]` line.
pub(super) fn fill_decl<'a>(p: &Parser<'a>, l: &Line<'a>) -> Result<FillDecl, ParseError> {
    let usage = "fill file-clean|file-dirty|anon|kernel|used [node=N] [owner=NAME]";
    p.at_least(l, 2, usage)?;
    let t = l.toks[1];
    let Some(kind) = Fill::from_name(t.text) else {
        return err(
            t.line,
            t.col,
            format!(
                "unknown fill `{}`: expected file-clean, file-dirty, anon, kernel or used",
                t.text
            ),
        );
    };
    let mut f = FillDecl::of(kind);
    for t in &l.toks[2..] {
        if let Some(v) = t.text.strip_prefix("node=") {
            if f.node.is_some() {
                return err(t.line, t.col, "node given twice");
            }
            f.node = Some(num_tok(t, v, "node")?);
        } else if let Some(v) = t.text.strip_prefix("owner=") {
            if f.owner.is_some() {
                return err(t.line, t.col, "owner given twice");
            }
            let owner = Tok { text: v, ..*t };
            f.owner = Some(name_tok(&owner, "owner name")?);
        } else {
            return err(
                t.line,
                t.col,
                format!("unexpected `{}`; usage: {usage}", t.text),
            );
        }
    }
    Ok(f)
}

/// A `swap PAGES` line (at most one; `seen` says whether one was read).
pub(super) fn swap_decl<'a>(p: &Parser<'a>, l: &Line<'a>, seen: bool) -> Result<u64, ParseError> {
    let t0 = l.toks[0];
    p.arity(l, 2, "swap PAGES")?;
    if seen {
        return err(t0.line, t0.col, "second `swap` line");
    }
    let t = l.toks[1];
    num_tok(&t, t.text, "number of swap pages")
}

/// A `mempool NAME [min=N] [order=N]` line; `taken` are the pools declared
/// before it.
pub(super) fn mempool_decl<'a>(
    p: &Parser<'a>,
    l: &Line<'a>,
    taken: &[MempoolDecl],
) -> Result<MempoolDecl, ParseError> {
    let usage = "mempool NAME [min=N] [order=N]";
    p.at_least(l, 2, usage)?;
    let name = new_name(&l.toks[1], "mempool", |n| taken.iter().any(|d| d.name == n))?;
    let mut d = MempoolDecl {
        name,
        min: DEFAULT_POOL_MIN,
        order: 0,
    };
    let (mut seen_min, mut seen_order) = (false, false);
    for t in &l.toks[2..] {
        if let Some(v) = t.text.strip_prefix("min=") {
            let n: u32 = num_tok(t, v, "pool size")?;
            if seen_min || n == 0 || n > MAX_POOL_MIN {
                return err(
                    t.line,
                    t.col,
                    if seen_min {
                        "min given twice".to_string()
                    } else {
                        format!("min={n}: need 1..={MAX_POOL_MIN}")
                    },
                );
            }
            seen_min = true;
            d.min = n;
        } else if let Some(v) = t.text.strip_prefix("order=") {
            let o = order_opt(t, v, &mut seen_order)?;
            d.order = o;
        } else {
            return err(
                t.line,
                t.col,
                format!("unexpected `{}`; usage: {usage}", t.text),
            );
        }
    }
    Ok(d)
}

/// How a `memcg` line is written, for its error messages.
const MEMCG_USAGE: &str = "memcg NAME max=PAGES [high=PAGES] [low=PAGES] [min=PAGES] [oom.group]";

/// A `memcg` line: the name, then its settings in any order, each at most
/// once. `max=` is required, as it was when it was the only setting, so
/// that no scenario declares a group that limits nothing by omission.
/// `low=` and `min=` above `max=` are refused: a group never holds more
/// than `max`, so such protection could only be a mistake.
pub(super) fn memcg_decl<'a>(
    p: &Parser<'a>,
    l: &Line<'a>,
    taken: &[MemcgDecl],
) -> Result<MemcgDecl, ParseError> {
    p.at_least(l, 3, MEMCG_USAGE)?;
    let name = new_name(&l.toks[1], "memcg", |n| taken.iter().any(|d| d.name == n))?;
    let mut d = MemcgDecl::with_max(name, 0);
    let mut max = None;
    // The tokens of `low=` and `min=`, to point at once `max` is known.
    let (mut low_tok, mut min_tok) = (None, None);
    for t in &l.toks[2..] {
        if t.text == "oom.group" {
            if d.oom_group {
                return err(t.line, t.col, "oom.group given twice");
            }
            d.oom_group = true;
            continue;
        }
        let Some((key, v)) = t.text.split_once('=') else {
            return err(
                t.line,
                t.col,
                format!("unexpected `{}`; usage: {MEMCG_USAGE}", t.text),
            );
        };
        let slot = match key {
            "max" => &mut max,
            "high" => &mut d.high,
            "low" => {
                low_tok = Some(*t);
                &mut d.low
            }
            "min" => {
                min_tok = Some(*t);
                &mut d.min
            }
            "oom.group" => return err(t.line, t.col, "oom.group takes no value"),
            _ => {
                let expected = "expected max=, high=, low=, min= or oom.group";
                return err(
                    t.line,
                    t.col,
                    format!("unknown memcg setting `{key}`: {expected}"),
                );
            }
        };
        if slot.is_some() {
            return err(t.line, t.col, format!("{key} given twice"));
        }
        *slot = Some(num_tok(t, v, "page count")?);
    }
    let Some(max) = max else {
        let last = l.toks[l.toks.len() - 1];
        return err(
            l.no,
            last.col + last.text.chars().count(),
            format!("missing max=PAGES; usage: {MEMCG_USAGE}"),
        );
    };
    d.max = max;
    for (key, value, tok) in [("low", d.low, low_tok), ("min", d.min, min_tok)] {
        if let (Some(v), Some(t)) = (value, tok) {
            if v > max {
                return err(t.line, t.col, format!("{key}={v} is above max={max}"));
            }
        }
    }
    Ok(d)
}

/// A `cpuset NAME mems=LIST [hardwall]` line; `taken` are the cpusets
/// declared before it.
pub(super) fn cpuset_decl<'a>(
    p: &Parser<'a>,
    l: &Line<'a>,
    taken: &[CpusetDecl],
) -> Result<CpusetDecl, ParseError> {
    let usage = "cpuset NAME mems=LIST [hardwall]";
    if l.toks.len() < 3 || l.toks.len() > 4 {
        p.arity(l, if l.toks.len() < 3 { 3 } else { 4 }, usage)?;
    }
    let name = new_name(&l.toks[1], "cpuset", |n| taken.iter().any(|d| d.name == n))?;
    let t = l.toks[2];
    let Some(v) = t.text.strip_prefix("mems=") else {
        return err(
            t.line,
            t.col,
            format!("unexpected `{}`; usage: {usage}", t.text),
        );
    };
    let mems = node_list(&t, v)?;
    let hardwall = match l.toks.get(3) {
        None => false,
        Some(t) if t.text == "hardwall" => true,
        Some(t) => {
            return err(
                t.line,
                t.col,
                format!("unexpected `{}`: expected hardwall", t.text),
            )
        }
    };
    Ok(CpusetDecl {
        name,
        mems,
        hardwall,
    })
}

/// A `device NAME block|swap [latency=NS] [fail=MODE]` line; `taken` are
/// the devices declared before it (one of them at most the swap device).
pub(super) fn device_decl<'a>(
    p: &Parser<'a>,
    l: &Line<'a>,
    taken: &[DeviceDecl],
) -> Result<DeviceDecl, ParseError> {
    let usage = "device NAME block|swap [latency=NS] [fail=every:N|after:N|rate:P/Q]";
    p.at_least(l, 3, usage)?;
    let name = new_name(&l.toks[1], "device", |n| taken.iter().any(|d| d.name == n))?;
    let k = l.toks[2];
    let kind = match k.text {
        "block" => DeviceKind::Block,
        "swap" => DeviceKind::Swap,
        o => {
            return err(
                k.line,
                k.col,
                format!("unknown device kind `{o}`: expected block or swap"),
            )
        }
    };
    if kind == DeviceKind::Swap && taken.iter().any(|d| d.kind == DeviceKind::Swap) {
        return err(k.line, k.col, "a second swap device (one is modelled)");
    }
    let mut d = DeviceDecl {
        name,
        kind,
        latency_ns: None,
        fail: None,
    };
    for t in &l.toks[3..] {
        if let Some(v) = t.text.strip_prefix("latency=") {
            if d.latency_ns.is_some() {
                return err(t.line, t.col, "latency given twice");
            }
            d.latency_ns = Some(num_tok(t, v, "latency in nanoseconds")?);
        } else if let Some(v) = t.text.strip_prefix("fail=") {
            if d.fail.is_some() {
                return err(t.line, t.col, "fail given twice");
            }
            d.fail = Some(fail_mode(t, v)?);
        } else {
            return err(
                t.line,
                t.col,
                format!("unexpected `{}`; usage: {usage}", t.text),
            );
        }
    }
    Ok(d)
}

/// A `lock NAME sleeping|spin [fs-reclaim|io-reclaim]` line; `taken` are
/// the locks declared before it.
pub(super) fn lock_decl<'a>(
    p: &Parser<'a>,
    l: &Line<'a>,
    taken: &[LockDecl],
) -> Result<LockDecl, ParseError> {
    p.at_least(l, 3, "lock NAME sleeping|spin [fs-reclaim|io-reclaim]")?;
    if l.toks.len() > 4 {
        p.arity(l, 4, "lock NAME sleeping|spin [fs-reclaim|io-reclaim]")?;
    }
    let name = new_name(&l.toks[1], "lock", |n| taken.iter().any(|d| d.name == n))?;
    let k = l.toks[2];
    let kind = match k.text {
        "sleeping" => LockKind::Sleeping,
        "spin" => LockKind::Spin,
        o => {
            return err(
                k.line,
                k.col,
                format!("unknown lock kind `{o}`: expected sleeping or spin"),
            )
        }
    };
    let (fs_reclaim, io_reclaim) = match l.toks.get(3) {
        None => (false, false),
        Some(t) if t.text == "fs-reclaim" => (true, false),
        Some(t) if t.text == "io-reclaim" => (false, true),
        Some(t) => {
            return err(
                t.line,
                t.col,
                format!("unexpected `{}`: expected fs-reclaim or io-reclaim", t.text),
            )
        }
    };
    Ok(LockDecl {
        name,
        kind,
        fs_reclaim,
        io_reclaim,
    })
}

/// A `fn NAME` line and its body, up to its `end`; `taken` are the
/// functions defined before it.
pub(super) fn fn_decl<'a>(
    p: &mut Parser<'a>,
    l: &Line<'a>,
    taken: &[Function],
) -> Result<Function, ParseError> {
    p.arity(l, 2, "fn NAME")?;
    let name = name_tok(&l.toks[1], "function name")?;
    if taken.iter().any(|f| f.name == name) {
        return err(
            l.toks[1].line,
            l.toks[1].col,
            format!("function `{name}` defined twice"),
        );
    }
    let body = p.body(l.toks[0])?;
    Ok(Function { name, body })
}

/// A `task NAME [options]` line and its body, up to its `end`; `taken` are
/// the tasks declared before it (at most [`MAX_TASKS`] in all).
pub(super) fn task_decl<'a>(
    p: &mut Parser<'a>,
    l: &Line<'a>,
    taken: &[TaskDecl],
) -> Result<TaskDecl, ParseError> {
    let usage = "task NAME [softirq|hardirq [interrupts=TASK]] [memcg=NAME] [cpuset=NAME]";
    p.at_least(l, 2, usage)?;
    if taken.len() == MAX_TASKS {
        return err(
            l.toks[0].line,
            l.toks[0].col,
            format!("more than {MAX_TASKS} tasks"),
        );
    }
    let name = new_name(&l.toks[1], "task", |n| taken.iter().any(|d| d.name == n))?;
    let mut context = None;
    let (mut memcg, mut cpuset) = (None, None);
    let mut interrupts: Option<(String, Tok<'_>)> = None;
    for t in &l.toks[2..] {
        let dup = |what: &str| err(t.line, t.col, format!("{what} given twice"));
        match t.text {
            "softirq" | "hardirq" => {
                if context.is_some() {
                    return dup("context");
                }
                context = Some(if t.text == "softirq" {
                    TaskContextKind::SoftIrq
                } else {
                    TaskContextKind::HardIrq
                });
            }
            _ => {
                if let Some(v) = t.text.strip_prefix("memcg=") {
                    if memcg.is_some() {
                        return dup("memcg");
                    }
                    memcg = Some(name_tok(&Tok { text: v, ..*t }, "memcg name")?);
                } else if let Some(v) = t.text.strip_prefix("cpuset=") {
                    if cpuset.is_some() {
                        return dup("cpuset");
                    }
                    cpuset = Some(name_tok(&Tok { text: v, ..*t }, "cpuset name")?);
                } else if let Some(v) = t.text.strip_prefix("interrupts=") {
                    if interrupts.is_some() {
                        return dup("interrupts");
                    }
                    interrupts = Some((name_tok(&Tok { text: v, ..*t }, "task name")?, *t));
                } else {
                    return err(
                        t.line,
                        t.col,
                        format!(
                            "unknown task option `{}`: expected softirq, hardirq, memcg=NAME, cpuset=NAME or interrupts=TASK",
                            t.text
                        ),
                    );
                }
            }
        }
    }
    if let Some((_, t)) = &interrupts {
        if context.is_none() {
            return err(
                t.line,
                t.col,
                "interrupts=TASK needs softirq or hardirq: only an interrupt handler interrupts a task",
            );
        }
    }
    let body = p.body(l.toks[0])?;
    Ok(TaskDecl {
        name,
        context: context.unwrap_or_default(),
        memcg,
        cpuset,
        interrupts: interrupts.map(|(n, _)| n),
        body,
    })
}

/// Parses the value of `fail=`: `every:N`, `after:N`, `rate:P/Q`.
fn fail_mode(t: &Tok<'_>, v: &str) -> Result<FailMode, ParseError> {
    let bad = |why: &str| {
        err(
            t.line,
            t.col,
            format!("bad fail=`{v}`: {why}; expected every:N, after:N or rate:P/Q"),
        )
    };
    let Some((how, n)) = v.split_once(':') else {
        return bad("no `:`");
    };
    match how {
        "every" => match n.parse::<u64>() {
            Ok(n) if n >= 1 => Ok(FailMode::Every(n)),
            _ => bad("every:N needs N >= 1"),
        },
        "after" => match n.parse::<u64>() {
            Ok(n) => Ok(FailMode::After(n)),
            _ => bad("after:N needs a number"),
        },
        "rate" => {
            let parsed = n
                .split_once('/')
                .and_then(|(p, q)| Some((p.parse::<u32>().ok()?, q.parse::<u32>().ok()?)));
            match parsed {
                Some((p, q)) if q >= 1 && p <= q => Ok(FailMode::Rate(p, q)),
                _ => bad("rate:P/Q needs 0 <= P <= Q, Q >= 1"),
            }
        }
        _ => bad(&format!("unknown mode `{how}`")),
    }
}

/// Parses a node list: `1`, `0,1`, `0-3`, `0-1,3`.
fn node_list(t: &Tok<'_>, v: &str) -> Result<Vec<u32>, ParseError> {
    let mut out = Vec::new();
    for part in v.split(',') {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let a: u32 = num_tok(t, a, "node")?;
        let b: u32 = num_tok(t, b, "node")?;
        if a > b || b >= 64 {
            return err(
                t.line,
                t.col,
                format!("bad node range `{part}`: nodes are 0..=63, low-high"),
            );
        }
        out.extend(a..=b);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}
