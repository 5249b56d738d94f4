//! The checks run once every declaration is known: that each name an op
//! or a task option refers to is declared, and declared with the right kind.

use super::tokens::{err, tokenize};
use super::{BlockIo, DeviceKind, LockKind, Op, ParseError, Scenario, TaskContextKind};

/// Where the option token `needle` stands on task `task`'s declaration
/// line (line 1, column 1 when it cannot be found).
fn task_option_at(text: &str, task: &str, needle: &str) -> (usize, usize) {
    tokenize(text)
        .into_iter()
        .filter(|l| l.toks[0].text == "task" && l.toks.get(1).is_some_and(|n| n.text == task))
        .find_map(|l| {
            l.toks
                .iter()
                .find(|k| k.text == needle)
                .map(|k| (k.line, k.col))
        })
        .unwrap_or((1, 1))
}

/// Checks that every lock and function an op names is declared, and that
/// locks are used with their kind. Reports the first line that names it.
pub(super) fn check_refs(s: &Scenario, text: &str) -> Result<(), ParseError> {
    fn walk<'o>(ops: &'o [Op], out: &mut Vec<(&'o str, &'o str)>) {
        for op in ops {
            match op {
                Op::Lock(n) | Op::Unlock(n) => out.push(("lock", n)),
                Op::SpinLock(n) | Op::SpinUnlock(n) | Op::SpinLockBh(n) | Op::SpinUnlockBh(n) => {
                    out.push(("spin", n))
                }
                Op::Io(BlockIo {
                    device: Some(d), ..
                }) => out.push(("device", d)),
                Op::Call(n) => out.push(("call", n)),
                Op::MempoolAlloc(a) => out.push(("mempool", &a.pool)),
                Op::Scope(_, b) | Op::IfFailed(_, b) | Op::Repeat(_, b) => walk(b, out),
                _ => {}
            }
        }
    }
    let mut refs = Vec::new();
    for f in &s.functions {
        walk(&f.body, &mut refs);
    }
    for t in &s.tasks {
        walk(&t.body, &mut refs);
    }
    for (kind, name) in refs {
        let problem = match kind {
            "call" if !s.functions.iter().any(|f| f.name == name) => {
                Some(format!("call of undefined function `{name}`"))
            }
            "mempool" if !s.mempools.iter().any(|m| m.name == name) => {
                Some(format!("mempool `{name}` is not declared"))
            }
            "device" => match s.devices.iter().find(|d| d.name == name) {
                None => Some(format!("device `{name}` is not declared")),
                Some(d) if d.kind != DeviceKind::Block => Some(format!(
                    "device `{name}` is the swap device; io needs a block device"
                )),
                _ => None,
            },
            "lock" | "spin" => match s.locks.iter().find(|l| l.name == name) {
                None => Some(format!("lock `{name}` is not declared")),
                Some(l) if (l.kind == LockKind::Spin) != (kind == "spin") => Some(format!(
                    "lock `{name}` is declared {}; use {}",
                    if l.kind == LockKind::Spin {
                        "spin"
                    } else {
                        "sleeping"
                    },
                    if l.kind == LockKind::Spin {
                        "spin_lock/spin_unlock"
                    } else {
                        "lock/unlock"
                    }
                )),
                _ => None,
            },
            _ => None,
        };
        if let Some(message) = problem {
            let (line, column) = locate(text, kind, name);
            return err(line, column, message);
        }
    }
    for t in &s.tasks {
        let missing = if let Some(m) = t
            .memcg
            .as_ref()
            .filter(|m| !s.memcgs.iter().any(|d| &d.name == *m))
        {
            Some(("memcg=", m, "memcg"))
        } else {
            t.cpuset
                .as_ref()
                .filter(|c| !s.cpusets.iter().any(|d| &d.name == *c))
                .map(|c| ("cpuset=", c, "cpuset"))
        };
        if let Some((key, name, what)) = missing {
            let needle = format!("{key}{name}");
            let (line, column) = task_option_at(text, &t.name, &needle);
            return err(line, column, format!("{what} `{name}` is not declared"));
        }
    }
    for t in &s.tasks {
        let Some(v) = &t.interrupts else { continue };
        let problem = match s.tasks.iter().find(|d| &d.name == v) {
            None => Some(format!("task `{v}` is not declared")),
            Some(d) if d.context != TaskContextKind::Process => Some(format!(
                "task `{v}` is not a process-context task: handlers interrupt tasks"
            )),
            _ => None,
        };
        if let Some(message) = problem {
            let needle = format!("interrupts={v}");
            let (line, column) = task_option_at(text, &t.name, &needle);
            return err(line, column, message);
        }
    }
    Ok(())
}

/// The first op line naming `name` with an op of `kind`.
fn locate(text: &str, kind: &str, name: &str) -> (usize, usize) {
    for l in tokenize(text) {
        let first = l.toks[0].text;
        let matches_kind = match kind {
            "call" => first == "call",
            "mempool" => first == "mempool_alloc",
            "lock" => first == "lock" || first == "unlock",
            "device" => first == "io",
            _ => matches!(
                first,
                "spin_lock" | "spin_unlock" | "spin_lock_bh" | "spin_unlock_bh"
            ),
        };
        if kind == "device" && matches_kind {
            let needle = format!("dev={name}");
            if let Some(t) = l.toks.iter().find(|t| t.text == needle) {
                return (l.no, t.col);
            }
        }
        if matches_kind && kind == "mempool" {
            if let Some(t) = l.toks.get(2).filter(|t| t.text == name) {
                return (l.no, t.col);
            }
        }
        if matches_kind && l.toks.len() == 2 && l.toks[1].text == name {
            return (l.no, l.toks[1].col);
        }
    }
    (1, 1)
}
