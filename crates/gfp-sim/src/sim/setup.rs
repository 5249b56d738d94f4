//! Setup from a scenario: the machine, the memory manager, locks, pools,
//! memory cgroups, cpusets, the tasks, and the fills that leave memory in
//! the state the scenario describes.

use super::*;

/// The machine a declaration names.
pub fn machine_spec(decl: &MachineDecl) -> MachineSpec {
    match decl {
        MachineDecl::Preset(p) => match p.as_str() {
            "test-64mib" => MachineSpec::test_64mib(),
            "highmem-32bit" => MachineSpec::highmem_32bit(),
            "small-numa" => small(
                "small-numa",
                vec![
                    NodeSpec::new(64, 192, 384, 0, 0),
                    NodeSpec::new(0, 0, 256, 0, 128),
                ],
            ),
            "small-highmem" => small("small-highmem", vec![NodeSpec::new(64, 0, 448, 512, 0)]),
            _ => MachineSpec::default_machine(),
        },
        MachineDecl::Pages(n, pcp) => {
            let mut s = MachineSpec::new("sim", vec![NodeSpec::new(0, 0, *n, 0, 0)], 1);
            if *pcp == PcpSizing::Small {
                s.tunables.pcp_batch = Some(1);
                s.tunables.pcp_high = Some(4);
            }
            s.tunables.pageblock_order = 5;
            s
        }
    }
}

/// A machine of 1024 pages, small enough to build and fill in a fraction
/// of a millisecond, with the proportions that matter on a real machine
/// kept: the reserves below the min watermark hold several times the
/// largest single request (order 3) of an ordinary call site, as a real
/// machine's hold thousands of pages (`min_free_kbytes` 1 MiB: a quarter
/// of memory here); ZONE_DMA is out of reach of allocations that may use
/// higher zones (`lowmem_reserve_ratio` 1, as a 16 MiB ZONE_DMA below
/// gigabytes of higher zones is entirely covered by its reserve).
fn small(name: &str, nodes: Vec<NodeSpec>) -> MachineSpec {
    let mut s = MachineSpec::new(name, nodes, 1);
    s.tunables.min_free_kbytes = Some(1024);
    s.tunables.lowmem_reserve_ratio = [1, 256, 32, 0, 0];
    s.tunables.pcp_batch = Some(1);
    s.tunables.pcp_high = Some(4);
    s.tunables.pageblock_order = 5;
    s
}

/// Fills memory without reclaim and without waking kswapd.
const FILL_MASK: Gfp = Gfp::HIGHUSER_MOVABLE
    .difference(Gfp::DIRECT_RECLAIM)
    .difference(Gfp::KSWAPD_RECLAIM)
    .union(Gfp::NOWARN);

/// Fills the filesystem's caches (`fill fs-cache`): reclaimable slab pages,
/// without reclaim and without waking kswapd.
const FS_CACHE_MASK: Gfp = Gfp::KERNEL
    .union(Gfp::RECLAIMABLE)
    .difference(Gfp::DIRECT_RECLAIM)
    .difference(Gfp::KSWAPD_RECLAIM)
    .union(Gfp::NOWARN);

/// Swap pages when the scenario does not say (`swap N`).
pub const DEFAULT_SWAP_PAGES: u64 = 1024;

/// The simulated block device's latency.
pub const IO_LATENCY_NS: u64 = 100_000;

impl Sim {
    /// Builds the machine, fills memory and creates the tasks.
    ///
    /// The calling thread, which runs the simulation (a `Sim` stays on its
    /// thread), becomes the owner of the machine's per-CPU lists (see
    /// [`gfp_mm::rt::own_per_cpu_lists`]): no other thread uses them.
    pub fn new(scenario: &Scenario, config: SimConfig) -> Result<Sim, SetupError> {
        gfp_mm::rt::own_per_cpu_lists();
        let spec = machine_spec(&scenario.machine);
        let machine = Machine::new(spec).map_err(|e| SetupError(format!("machine: {e}")))?;
        let devices = devices::Devices::new(&scenario.devices, config.seed);
        let mut vm_config = VmConfig {
            swap_pages: scenario.swap.unwrap_or(DEFAULT_SWAP_PAGES),
            ..VmConfig::default()
        };
        // Declared devices set the latencies of reclaim's I/O: swap-out on
        // the swap device, writeback on the filesystem's (first block) one.
        if let Some(d) = devices.swap {
            vm_config.swap_latency_ns = devices.list[d].latency_ns;
        }
        if let Some(d) = devices.fs {
            vm_config.writeback_latency_ns = devices.list[d].latency_ns;
        }
        let io_bodies = Self::io_bodies(scenario, &devices);
        let vm = Arc::new(Vm::new(&machine, vm_config));
        let reclaim_locks = |io: bool| -> Vec<usize> {
            (scenario.locks.iter().enumerate())
                .filter(|(_, l)| if io { l.io_reclaim } else { l.fs_reclaim })
                .map(|(i, _)| i)
                .collect()
        };
        let fs_locks = reclaim_locks(false);
        let world = World::new(
            scenario.locks.len(),
            fs_locks.clone(),
            reclaim_locks(true),
            devices,
        );
        let fs_cache = scenario.fills.iter().any(|f| f.kind == Fill::FsCache);
        let fs_shrinker = (!fs_locks.is_empty() || fs_cache).then(|| {
            // The filesystem's shrinker: reclaim with __GFP_FS calls it.
            let s = Arc::new(FsShrinker {
                world: world.clone(),
                cache: PageCacheShrinker::new("fs-cache", true),
                has_locks: !fs_locks.is_empty(),
            });
            vm.register_shrinker(s.clone());
            s
        });
        let env = SimEnv {
            inner: VirtualEnv::new(),
            armed: std::cell::Cell::new(None),
            calls: std::cell::Cell::new(0),
            world: world.clone(),
        };
        let locks = Self::register_locks(scenario, &vm);
        let functions = scenario
            .functions
            .iter()
            .map(|f| (f.name.clone(), Rc::from(f.body.clone())))
            .collect();
        let fs = Self::fs_body(scenario);
        let pools = Self::make_pools(scenario, &machine, &vm, &env)?;
        let memcgs: BTreeMap<&str, MemcgId> = scenario
            .memcgs
            .iter()
            .map(|m| {
                let id = vm.memcg_create(MemcgId::ROOT, &m.name);
                vm.memcg_set_max(id, m.max);
                // Settings left out keep the kernel's defaults, which
                // memcg_create() gave the group.
                if let Some(high) = m.high {
                    vm.memcg_set_high(id, high);
                }
                if let Some(low) = m.low {
                    vm.memcg_set_low(id, low);
                }
                if let Some(min) = m.min {
                    vm.memcg_set_min(id, min);
                }
                vm.memcg_set_oom_group(id, m.oom_group);
                (m.name.as_str(), id)
            })
            .collect();
        let cpusets = Self::make_cpusets(scenario, &machine)?;
        Self::check_fills(scenario, &machine)?;
        let mut blocks = Blocks::with_functions(
            scenario
                .functions
                .iter()
                .map(|f| (f.name.as_str(), f.body.as_slice())),
        );
        let fs_block = blocks.compile(Rc::from(fs));
        let io_blocks: Vec<u32> = io_bodies.into_iter().map(|b| blocks.compile(b)).collect();
        let mut sim = Sim {
            scenario: scenario.clone(),
            config,
            machine: Rc::new(machine),
            vm,
            env: Rc::new(env),
            slab: None,
            pools,
            kswapd: None,
            kswapd_wake_at: 0,
            dirty_objs: BTreeSet::new(),
            io_reported: BTreeSet::new(),
            kills_seen: 0,
            rng: XorShift::new(config.seed),
            tasks: Vec::new(),
            locks,
            functions,
            world,
            fs_shrinker,
            irqs: irq::Irqs::new(scenario.locks.len()),
            dirty: Vec::new(),
            findings: Vec::new(),
            steps: 0,
            kswapd_runs: 0,
            task_freed: 0,
            current: None,
            halted: false,
            reports_seen: 0,
            blocked: false,
            wakeups_at_start: 0,
            below_low: None,
            drained: BTreeSet::new(),
            memcg_ids: scenario
                .memcgs
                .iter()
                .map(|m| memcgs[m.name.as_str()])
                .collect(),
            timeline: None,
            blocks,
            fs_block,
            io_blocks,
            runnable: Vec::new(),
            op_var: (0, 0, NONE),
        };
        // Tasks exist before memory is filled, so that fills can name them
        // as owners.
        for t in &scenario.tasks {
            sim.spawn_task(t, &memcgs, &cpusets);
        }
        sim.arm_handlers(scenario);
        sim.fill();
        sim.wakeups_at_start = sim.env.inner.kswapd_wakeups();
        sim.start_recording();
        Ok(sim)
    }

    /// Registers the scenario's locks with lockdep (those the filesystem's
    /// reclaim path takes marked so).
    fn register_locks(scenario: &Scenario, vm: &Vm) -> Vec<LockState> {
        let mut locks = Vec::new();
        for l in &scenario.locks {
            let id = vm.lockdep().register(&l.name);
            if l.fs_reclaim {
                vm.lockdep()
                    .taken_in_fs_reclaim(id, &format!("fs reclaim path (lock {})", l.name));
            }
            locks.push(LockState {
                name: l.name.clone(),
                kind: l.kind,
                io_reclaim: l.io_reclaim,
                owner: None,
                id,
            });
        }
        locks
    }

    /// The filesystem's operation (`fs_call`): takes its reclaim-path
    /// locks and allocates.
    fn fs_body(scenario: &Scenario) -> Vec<Op> {
        let mut fs = Vec::new();
        for l in scenario.locks.iter().filter(|l| l.fs_reclaim) {
            if l.kind == LockKind::Sleeping {
                fs.push(Op::Lock(l.name.clone()));
            }
        }
        fs.push(Op::Alloc(Alloc {
            var: "fs-page".into(),
            mask: Gfp::KERNEL,
            order: 0,
            node: None,
            no_failure_path: false,
        }));
        fs.push(Op::Free("fs-page".into()));
        for l in scenario.locks.iter().filter(|l| l.fs_reclaim).rev() {
            if l.kind == LockKind::Sleeping {
                fs.push(Op::Unlock(l.name.clone()));
            }
        }
        fs
    }

    /// The declared memory pools, made at boot, before memory fills up.
    fn make_pools(
        scenario: &Scenario,
        machine: &Machine,
        vm: &Vm,
        env: &SimEnv,
    ) -> Result<Vec<(String, Rc<Mempool>)>, SetupError> {
        let mut pools = Vec::new();
        let cx = Cx::new(0, Task::new().named("init"), env, vm);
        let cx = vm.cx(&cx);
        for p in &scenario.mempools {
            let pool = Mempool::new_page_pool(machine, &cx, p.min as usize, p.order)
                .map_err(|e| SetupError(format!("mempool {}: {e}", p.name)))?;
            pools.push((p.name.clone(), Rc::new(pool)));
        }
        Ok(pools)
    }

    /// The declared cpusets, by name, with their nodes.
    fn make_cpusets<'a>(
        scenario: &'a Scenario,
        machine: &Machine,
    ) -> Result<BTreeMap<&'a str, (CpusetId, NodeMask)>, SetupError> {
        let mut cpusets = BTreeMap::new();
        for c in &scenario.cpusets {
            let mut mask = NodeMask::EMPTY;
            for &n in &c.mems {
                if n as usize >= machine.nr_nodes() {
                    return Err(SetupError(format!(
                        "cpuset {}: node {n} does not exist (the machine has {} nodes)",
                        c.name,
                        machine.nr_nodes()
                    )));
                }
                mask = mask.with(n as usize);
            }
            let id = machine
                .create_cpuset(CpusetId::ROOT, &c.name, mask, c.hardwall, false)
                .map_err(|e| SetupError(format!("cpuset {}: {e}", c.name)))?;
            cpusets.insert(c.name.as_str(), (id, mask));
        }
        Ok(cpusets)
    }

    /// Fills name nodes the machine has.
    fn check_fills(scenario: &Scenario, machine: &Machine) -> Result<(), SetupError> {
        for f in &scenario.fills {
            if let Some(n) = f.node.filter(|&n| n as usize >= machine.nr_nodes()) {
                return Err(SetupError(format!(
                    "fill {} node={n}: the machine has {} nodes",
                    f.kind.name(),
                    machine.nr_nodes()
                )));
            }
        }
        Ok(())
    }

    /// Creates task `t`: its process, memory cgroup and cpuset, and its
    /// body's first frame.
    fn spawn_task(
        &mut self,
        t: &crate::format::TaskDecl,
        memcgs: &BTreeMap<&str, MemcgId>,
        cpusets: &BTreeMap<&str, (CpusetId, NodeMask)>,
    ) {
        let memcg = t
            .memcg
            .as_deref()
            .and_then(|m| memcgs.get(m).copied())
            .unwrap_or(MemcgId::ROOT);
        let pid = self.vm.spawn_in(&t.name, 0, memcg);
        let body = self.blocks.compile(Rc::from(t.body.as_slice()));
        let body = self.blocks.get(body);
        self.tasks.push(TaskState {
            name: t.name.clone(),
            context: t.context,
            pid,
            ctx: TaskContext::new(),
            frames: vec![Frame {
                ops: body.ops.clone(),
                pc: 0,
                kind: FrameKind::Body,
                info: body.info.clone(),
            }],
            vars: Vec::new(),
            held: Vec::new(),
            spin: 0,
            irq_off: 0,
            bh_off: 0,
            rcu: 0,
            wake_at: 0,
            waiting_on: None,
            done: None,
            report: TaskReport {
                name: t.name.clone(),
                outcome: Outcome::Unfinished,
                steps: 0,
                allocations: 0,
                failures: 0,
                latency_total_ns: 0,
                latency_max_ns: 0,
            },
            memcg,
            cpuset: t.cpuset.as_deref().and_then(|c| cpusets.get(c).copied()),
            reclaim_wait: None,
            retrying: false,
            pool_wait: None,
            pool_woken: false,
            alloc_watch: None,
            stack: None,
            parked: false,
            interrupted_by: None,
            irq: None,
        });
    }

    /// `io`'s body on each block device (by device index, the default
    /// device last): the block layer's submission takes the `io-reclaim`
    /// sleeping locks around the bio's allocation (`GFP_NOIO`), then the
    /// task waits the device's latency; the request completes when the
    /// body's frame ends.
    pub(super) fn io_bodies(scenario: &Scenario, devices: &devices::Devices) -> Vec<Rc<[Op]>> {
        let queue: Vec<&str> = scenario
            .locks
            .iter()
            .filter(|l| l.io_reclaim && l.kind == LockKind::Sleeping)
            .map(|l| l.name.as_str())
            .collect();
        let latencies = devices
            .list
            .iter()
            .map(|d| d.latency_ns)
            .chain([IO_LATENCY_NS]);
        latencies
            .map(|latency| {
                let mut ops: Vec<Op> = queue.iter().map(|l| Op::Lock(l.to_string())).collect();
                ops.push(Op::Alloc(Alloc {
                    var: "bio-page".into(),
                    mask: Gfp::NOIO,
                    order: 0,
                    node: None,
                    no_failure_path: false,
                }));
                ops.extend(queue.iter().rev().map(|l| Op::Unlock(l.to_string())));
                ops.push(Op::Sleep(latency));
                ops.push(Op::Free("bio-page".into()));
                Rc::from(ops)
            })
            .collect()
    }

    pub(super) fn set_dirty(&mut self, pfn: u32, on: bool) {
        let i = pfn as usize;
        if i >= self.dirty.len() {
            if !on {
                return;
            }
            self.dirty.resize(i + 1, false);
        }
        self.dirty[i] = on;
    }

    /// The pid owning a fill: a task of that name, or a background
    /// process made for it (once per name).
    pub(super) fn owner_pid(&mut self, name: &str, extra: &mut BTreeMap<String, Pid>) -> Pid {
        if let Some(t) = self.tasks.iter().find(|t| t.name == name) {
            return t.pid;
        }
        *extra
            .entry(name.to_string())
            .or_insert_with(|| self.vm.spawn(name, 0))
    }

    pub(super) fn fill(&mut self) {
        let fills = self.scenario.fills.clone();
        let mut extra = BTreeMap::new();
        for f in fills {
            let owner = f.owner.as_deref().map(|o| self.owner_pid(o, &mut extra));
            // A fill of one node allocates from that node's CPU with
            // __GFP_THISNODE; a CPU of node 0 otherwise.
            let (cpu, thisnode) = match f.node {
                Some(n) => (
                    (0..self.machine.nr_cpus())
                        .find(|&c| self.machine.cpu_to_node(c) == n as usize)
                        .unwrap_or(0),
                    Gfp::THISNODE,
                ),
                None => (0, Gfp::EMPTY),
            };
            let cx = Cx::new(cpu, Task::new().named("init"), &*self.env, &*self.vm);
            // Every filled page holds data: once freed, whoever gets it next
            // reads that data unless the page is zeroed.
            let mut used = Vec::new();
            match f.kind {
                Fill::Used => {
                    for z in self.machine.zones() {
                        if f.node.is_none_or(|n| z.nid() == n as usize) {
                            used.extend(z.start_pfn()..z.start_pfn() + z.managed_pages() as u32);
                        }
                    }
                }
                Fill::FsCache => {
                    let c = Cx {
                        hooks: &NoProgress,
                        ..cx
                    };
                    let cache = &self.fs_shrinker.as_ref().expect("made for fs-cache").cache;
                    while let Ok(p) = self.machine.alloc_pages(&c, FS_CACHE_MASK | thisnode, 0) {
                        cache.insert(p);
                        used.push(p.pfn());
                    }
                }
                Fill::Kernel => {
                    let c = Cx {
                        hooks: &NoProgress,
                        ..cx
                    };
                    // Down to the min watermark, then into the atomic
                    // reserves: only PF_MEMALLOC can allocate afterwards.
                    for mask in [
                        (Gfp::KERNEL - Gfp::DIRECT_RECLAIM - Gfp::KSWAPD_RECLAIM) | Gfp::NOWARN,
                        (Gfp::ATOMIC - Gfp::KSWAPD_RECLAIM) | Gfp::NOWARN,
                    ] {
                        while let Ok(p) = self.machine.alloc_pages(&c, mask | thisnode, 0) {
                            used.push(p.pfn());
                        }
                    }
                }
                _ => {
                    let spec = match f.kind {
                        Fill::FileClean => PageSpec::FILE_CLEAN,
                        Fill::FileDirty => PageSpec::FILE_DIRTY,
                        _ => PageSpec::ANON,
                    };
                    while let Ok(p) =
                        self.vm
                            .add_page(&self.machine, &cx, FILL_MASK | thisnode, owner, spec)
                    {
                        used.push(p.pfn());
                    }
                }
            }
            for p in used {
                self.set_dirty(p, true);
            }
        }
    }
}
