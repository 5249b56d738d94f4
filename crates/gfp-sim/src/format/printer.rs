//! The printer: a scenario back to text, in the canonical layout.

use gfp::Gfp;

use super::{LockKind, MachineDecl, Op, PcpSizing, Scenario, Scope, TaskContextKind};

/// The same scenario with every generic scope (`scope set`, `scope clear`)
/// removed and its body inlined: what `gfp sim --drop-scopes` runs, and
/// what `gfp verify` checks a witness against. The task-flag scopes
/// (`nofs`, `noio`, `noreclaim`, `pin`) describe the program's context and
/// stay.
pub fn drop_scopes(s: &Scenario) -> Scenario {
    fn ops(body: &[Op]) -> Vec<Op> {
        let mut out = Vec::with_capacity(body.len());
        for op in body {
            match op {
                Op::Scope(Scope::Set(_) | Scope::Clear(_), b) => out.extend(ops(b)),
                Op::Scope(k, b) => out.push(Op::Scope(*k, ops(b))),
                Op::IfFailed(v, b) => out.push(Op::IfFailed(v.clone(), ops(b))),
                Op::Repeat(n, b) => out.push(Op::Repeat(*n, ops(b))),
                o => out.push(o.clone()),
            }
        }
        out
    }
    let mut d = s.clone();
    for f in &mut d.functions {
        f.body = ops(&f.body);
    }
    for t in &mut d.tasks {
        t.body = ops(&t.body);
    }
    d
}

/// Prints a scenario in the canonical layout; [`parse`](super::parse) reads it back to
/// the same value.
pub fn print(s: &Scenario) -> String {
    let mut o = String::new();
    o.push_str("gfp-scenario 1\n");
    if let Some(n) = &s.name {
        o.push_str(&format!("name {n}\n"));
    }
    match &s.machine {
        MachineDecl::Preset(p) => o.push_str(&format!("machine {p}\n")),
        MachineDecl::Pages(n, PcpSizing::Small) => o.push_str(&format!("machine pages={n}\n")),
        MachineDecl::Pages(n, pcp) => {
            o.push_str(&format!("machine pages={n} pcp={}\n", pcp.name()))
        }
    }
    if let Some(n) = s.swap {
        o.push_str(&format!("swap {n}\n"));
    }
    for f in &s.fills {
        o.push_str(&format!("fill {}\n", f.text()));
    }
    for l in &s.locks {
        o.push_str(&format!(
            "lock {} {}{}\n",
            l.name,
            match l.kind {
                LockKind::Sleeping => "sleeping",
                LockKind::Spin => "spin",
            },
            if l.fs_reclaim {
                " fs-reclaim"
            } else if l.io_reclaim {
                " io-reclaim"
            } else {
                ""
            }
        ));
    }
    for m in &s.mempools {
        o.push_str(&format!("mempool {} min={}", m.name, m.min));
        if m.order != 0 {
            o.push_str(&format!(" order={}", m.order));
        }
        o.push('\n');
    }
    for m in &s.memcgs {
        o.push_str(&format!("memcg {} max={}", m.name, m.max));
        for (key, value) in [("high", m.high), ("low", m.low), ("min", m.min)] {
            if let Some(v) = value {
                o.push_str(&format!(" {key}={v}"));
            }
        }
        if m.oom_group {
            o.push_str(" oom.group");
        }
        o.push('\n');
    }
    for c in &s.cpusets {
        let mems: Vec<String> = c.mems.iter().map(|n| n.to_string()).collect();
        o.push_str(&format!(
            "cpuset {} mems={}{}\n",
            c.name,
            mems.join(","),
            if c.hardwall { " hardwall" } else { "" }
        ));
    }
    for d in &s.devices {
        o.push_str(&format!("device {} {}", d.name, d.kind.name()));
        if let Some(l) = d.latency_ns {
            o.push_str(&format!(" latency={l}"));
        }
        if let Some(f) = d.fail {
            o.push_str(&format!(" fail={}", f.text()));
        }
        o.push('\n');
    }
    for f in &s.functions {
        o.push_str(&format!("fn {}\n", f.name));
        print_body(&mut o, &f.body, 1);
        o.push_str("end\n");
    }
    for t in &s.tasks {
        o.push_str(&format!(
            "task {}{}",
            t.name,
            match t.context {
                TaskContextKind::Process => "",
                TaskContextKind::SoftIrq => " softirq",
                TaskContextKind::HardIrq => " hardirq",
            }
        ));
        if let Some(m) = &t.memcg {
            o.push_str(&format!(" memcg={m}"));
        }
        if let Some(c) = &t.cpuset {
            o.push_str(&format!(" cpuset={c}"));
        }
        if let Some(v) = &t.interrupts {
            o.push_str(&format!(" interrupts={v}"));
        }
        o.push('\n');
        print_body(&mut o, &t.body, 1);
        o.push_str("end\n");
    }
    o
}

fn print_body(o: &mut String, ops: &[Op], depth: usize) {
    let pad = "  ".repeat(depth);
    for op in ops {
        o.push_str(&pad);
        match op {
            Op::Lock(n) => o.push_str(&format!("lock {n}\n")),
            Op::Unlock(n) => o.push_str(&format!("unlock {n}\n")),
            Op::SpinLock(n) => o.push_str(&format!("spin_lock {n}\n")),
            Op::SpinUnlock(n) => o.push_str(&format!("spin_unlock {n}\n")),
            Op::SpinLockBh(n) => o.push_str(&format!("spin_lock_bh {n}\n")),
            Op::SpinUnlockBh(n) => o.push_str(&format!("spin_unlock_bh {n}\n")),
            Op::BhDisable => o.push_str("local_bh_disable\n"),
            Op::BhEnable => o.push_str("local_bh_enable\n"),
            Op::IrqDisable => o.push_str("irq_disable\n"),
            Op::IrqEnable => o.push_str("irq_enable\n"),
            Op::RcuReadLock => o.push_str("rcu_read_lock\n"),
            Op::RcuReadUnlock => o.push_str("rcu_read_unlock\n"),
            Op::Scope(sc, body) => {
                match sc {
                    Scope::Set(g) => o.push_str(&format!("scope set {}\n", mask_text(*g))),
                    Scope::Clear(g) => o.push_str(&format!("scope clear {}\n", mask_text(*g))),
                    Scope::Nofs => o.push_str("scope nofs\n"),
                    Scope::Noio => o.push_str("scope noio\n"),
                    Scope::Noreclaim => o.push_str("scope noreclaim\n"),
                    Scope::Pin => o.push_str("scope pin\n"),
                }
                print_body(o, body, depth + 1);
                o.push_str(&pad);
                o.push_str("end\n");
            }
            Op::Repeat(n, body) => {
                o.push_str(&format!("repeat {n}\n"));
                print_body(o, body, depth + 1);
                o.push_str(&pad);
                o.push_str("end\n");
            }
            Op::IfFailed(v, body) => {
                o.push_str(&format!("if-failed {v}\n"));
                print_body(o, body, depth + 1);
                o.push_str(&pad);
                o.push_str("end\n");
            }
            Op::Alloc(a) => {
                o.push_str(&format!("alloc {} {}", a.var, mask_text(a.mask)));
                if a.order != 0 {
                    o.push_str(&format!(" order={}", a.order));
                }
                if let Some(n) = a.node {
                    o.push_str(&format!(" node={n}"));
                }
                if a.no_failure_path {
                    o.push_str(" no-failure-path");
                }
                o.push('\n');
            }
            Op::Free(v) => o.push_str(&format!("free {v}\n")),
            Op::Touch(v) => o.push_str(&format!("touch {v}\n")),
            Op::ExpectZero(v) => o.push_str(&format!("expect-zero {v}\n")),
            Op::Sleep(ns) => o.push_str(&format!("sleep {ns}\n")),
            Op::FsCall => o.push_str("fs_call\n"),
            Op::Io(io) => {
                o.push_str("io");
                if let Some(v) = &io.var {
                    o.push_str(&format!(" {v}"));
                }
                if let Some(d) = &io.device {
                    o.push_str(&format!(" dev={d}"));
                }
                o.push('\n');
            }
            Op::Fsync(v) => match v {
                Some(v) => o.push_str(&format!("fsync {v}\n")),
                None => o.push_str("fsync\n"),
            },
            Op::Call(n) => o.push_str(&format!("call {n}\n")),
            Op::Return => o.push_str("return\n"),
            Op::MempoolAlloc(a) => o.push_str(&format!(
                "mempool_alloc {} {} {}{}\n",
                a.var,
                a.pool,
                mask_text(a.mask),
                if a.no_failure_path {
                    " no-failure-path"
                } else {
                    ""
                }
            )),
            Op::Kmalloc(a) => o.push_str(&format!(
                "kmalloc {} {} {}{}\n",
                a.var,
                a.size,
                mask_text(a.mask),
                if a.no_failure_path {
                    " no-failure-path"
                } else {
                    ""
                }
            )),
        }
    }
}

/// A mask as the format writes it: kernel names when they read back to the
/// same bits, else hexadecimal.
pub fn mask_text(g: Gfp) -> String {
    let named = g.to_string();
    if !named.contains(' ') && gfp::parse::parse_native(&named).ok() == Some(g) {
        named
    } else {
        format!("{:#x}", g.bits())
    }
}
