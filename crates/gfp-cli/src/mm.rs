//! `gfp mm`: the default machine's zoneinfo, buddyinfo and vmstat, after a
//! small built-in workload or idle.

use std::process::ExitCode;

use clap::Args;
use gfp::Gfp;
use gfp_mm::{BuddyInfo, Cx, Machine, MachineSpec, NoProgress, Page, Task, VirtualEnv, ZoneInfo};
use serde::Serialize;

use crate::{print_json, CmdResult, UserError};

/// Arguments of `gfp mm`.
#[derive(Args)]
pub struct MmArgs {
    /// Show the machine as booted, without running the workload.
    #[arg(long)]
    idle: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Report {
    machine: MachineSpec,
    workload: bool,
    min_free_kbytes: u64,
    zoneinfo: Vec<ZoneInfo>,
    buddyinfo: Vec<BuddyInfo>,
    vmstat: serde_json::Map<String, serde_json::Value>,
}

/// The built-in workload: on every CPU, a mix of the common masks and
/// orders; half of it is freed again, from another CPU, so that the
/// per-CPU lists, merging and the counters all show.
fn workload(m: &Machine) -> Result<(), UserError> {
    let env = VirtualEnv::new();
    let masks: [(Gfp, u32); 7] = [
        (Gfp::KERNEL, 0),
        (Gfp::HIGHUSER_MOVABLE, 0),
        (Gfp::KERNEL | Gfp::RECLAIMABLE, 0),
        (Gfp::KERNEL | Gfp::COMP, 3),
        (Gfp::KERNEL | Gfp::DMA32, 1),
        (Gfp::ATOMIC, 2),
        (Gfp::TRANSHUGE, 9),
    ];
    let mut held: Vec<(Page, u32)> = Vec::new();
    for cpu in 0..m.nr_cpus() {
        let cx = Cx::new(cpu, Task::new().named("gfp-mm"), &env, &NoProgress);
        for round in 0..64 {
            let (gfp, order) = masks[round % masks.len()];
            let page = m
                .alloc_pages(&cx, gfp, order)
                .map_err(|e| UserError(format!("workload allocation failed: {e}")))?;
            held.push((page, order));
        }
    }
    let cpus = m.nr_cpus();
    for (i, (page, order)) in held.into_iter().enumerate() {
        if i % 2 == 0 {
            let cx = Cx::new(
                (i + 1) % cpus,
                Task::new().named("gfp-mm"),
                &env,
                &NoProgress,
            );
            m.free_pages(&cx, page, order)
                .map_err(|e| UserError(e.to_string()))?;
        }
    }
    Ok(())
}

/// Runs `gfp mm`.
pub fn run(args: MmArgs) -> CmdResult {
    let spec = MachineSpec::default_machine();
    let m = Machine::new(spec.clone()).map_err(|e| UserError(e.to_string()))?;
    if !args.idle {
        workload(&m)?;
    }
    if args.json {
        let vmstat = m
            .vmstat()
            .into_iter()
            .map(|(k, v)| (k, serde_json::Value::from(v)))
            .collect();
        return print_json(&Report {
            machine: spec,
            workload: !args.idle,
            min_free_kbytes: m.min_free_kbytes(),
            zoneinfo: m.zoneinfo(),
            buddyinfo: m.buddyinfo(),
            vmstat,
        });
    }
    outln!(
        "# machine {}: {} nodes, {} CPUs, {} MiB; min_free_kbytes {}; {}",
        spec.name,
        spec.nodes.len(),
        spec.cpus.len(),
        (m.total_pages() * gfp_mm::PAGE_SIZE as u64) >> 20,
        m.min_free_kbytes(),
        if args.idle {
            "idle"
        } else {
            "after the built-in workload"
        }
    );
    outln!("\n# /proc/buddyinfo");
    out!("{}", m.buddyinfo_text());
    outln!("\n# /proc/zoneinfo");
    out!("{}", m.zoneinfo_text());
    outln!("\n# /proc/vmstat");
    out!("{}", m.vmstat_text());
    Ok(ExitCode::SUCCESS)
}
