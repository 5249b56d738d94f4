//! Machine descriptions: nodes, their zones and sizes, distances, CPUs, and
//! the tunables that the kernel exposes as sysctls.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use gfp::zone::{ZoneType, MAX_PAGE_ORDER};

use crate::nodemask::{NodeId, MAX_NUMNODES};
use crate::PAGE_SIZE;

/// Number of zone types (`MAX_NR_ZONES`).
pub const MAX_NR_ZONES: usize = 5;

/// Distance of a node to itself (`LOCAL_DISTANCE`).
pub const LOCAL_DISTANCE: u8 = 10;
/// Default distance between two different nodes (`REMOTE_DISTANCE`).
pub const REMOTE_DISTANCE: u8 = 20;

/// One node: the size of each of its zones in pages, indexed by
/// [`ZoneType`] (`DMA`, `DMA32`, `Normal`, `HighMem`, `Movable`). A zone of
/// size 0 is not populated.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct NodeSpec {
    /// Pages per zone type, lowest zone first.
    pub zone_pages: [u32; MAX_NR_ZONES],
}

impl NodeSpec {
    /// A node with the given zone sizes in pages.
    pub const fn new(dma: u32, dma32: u32, normal: u32, highmem: u32, movable: u32) -> NodeSpec {
        NodeSpec {
            zone_pages: [dma, dma32, normal, highmem, movable],
        }
    }

    /// Total pages of the node.
    pub fn pages(&self) -> u64 {
        self.zone_pages.iter().map(|&p| p as u64).sum()
    }
}

/// The kernel's tunables that shape placement and reserves.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Tunables {
    /// `vm.min_free_kbytes`; `None` computes the kernel's boot default
    /// (`sqrt(lowmem_kbytes * 16)`, clamped to 128..=262144).
    pub min_free_kbytes: Option<u64>,
    /// `vm.watermark_scale_factor`, in units of 1/10000 of a zone (default 10).
    pub watermark_scale_factor: u32,
    /// `vm.lowmem_reserve_ratio` per zone type (default 256 256 32 0 0).
    pub lowmem_reserve_ratio: [u32; MAX_NR_ZONES],
    /// `vm.dirty_ratio`: percentage of dirtyable memory that may be dirty
    /// (default 20); `__GFP_WRITE` spreads pages so that no node exceeds its
    /// share.
    pub dirty_ratio: u32,
    /// log2 of the pageblock size in pages (9 on x86_64: 2 MiB). Smaller
    /// values let small test machines exercise pageblock stealing and the
    /// high-atomic reserve.
    pub pageblock_order: u32,
    /// Per-CPU list refill batch in pages; `None` uses the kernel's
    /// `zone_batchsize()`.
    pub pcp_batch: Option<u32>,
    /// Per-CPU list high mark in pages; `None` derives it from the low
    /// watermark shared by the CPUs of the zone's node (at least 4 batches).
    pub pcp_high: Option<u32>,
    /// `init_on_alloc=1`: zero every allocated page, as with `__GFP_ZERO`.
    pub init_on_alloc: bool,
}

impl Default for Tunables {
    fn default() -> Self {
        Tunables {
            min_free_kbytes: None,
            watermark_scale_factor: 10,
            lowmem_reserve_ratio: [256, 256, 32, 0, 0],
            dirty_ratio: 20,
            pageblock_order: 9,
            pcp_batch: None,
            pcp_high: None,
            init_on_alloc: false,
        }
    }
}

/// A whole machine.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct MachineSpec {
    /// A name for reports.
    pub name: String,
    /// The nodes, node 0 first; their zones are laid out in physical order
    /// (node 0's DMA first), starting at PFN 0.
    pub nodes: Vec<NodeSpec>,
    /// `distance[a][b]`: the NUMA distance from node `a` to node `b`.
    pub distance: Vec<Vec<u8>>,
    /// The node of each CPU (`cpu_to_node`); CPU ids are indices.
    pub cpus: Vec<NodeId>,
    /// Sysctl-like settings.
    pub tunables: Tunables,
}

/// Why a [`MachineSpec`] was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecError(pub String);

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid machine description: {}", self.0)
    }
}

impl core::error::Error for SpecError {}

const MIB: u32 = (1 << 20) / PAGE_SIZE as u32;

impl MachineSpec {
    /// A machine with the given nodes, default distances (10 local, 20
    /// remote), `cpus_per_node` CPUs on each node interleaved (CPU `c` on
    /// node `c % nodes`) and default tunables.
    pub fn new(name: &str, nodes: Vec<NodeSpec>, cpus_per_node: usize) -> MachineSpec {
        let n = nodes.len();
        let distance = (0..n)
            .map(|a| {
                (0..n)
                    .map(|b| {
                        if a == b {
                            LOCAL_DISTANCE
                        } else {
                            REMOTE_DISTANCE
                        }
                    })
                    .collect()
            })
            .collect();
        let cpus = (0..n * cpus_per_node).map(|c| c % n.max(1)).collect();
        MachineSpec {
            name: name.into(),
            nodes,
            distance,
            cpus,
            tunables: Tunables::default(),
        }
    }

    /// The built-in machine of the CLI and the benchmark: 256 MiB on two
    /// nodes. Node 0 has DMA (16 MiB), DMA32 (48 MiB), Normal (32 MiB) and
    /// Movable (16 MiB); node 1 has Normal (112 MiB) and Movable (32 MiB).
    /// Four CPUs, two per node.
    ///
    /// Its per-CPU lists are sized as on a large server (batch 63, the
    /// kernel's cap, and a high mark of 1024 pages) rather than by the
    /// formulas, which give a batch of 1 to zones this small.
    pub fn default_machine() -> MachineSpec {
        let mut spec = MachineSpec::new(
            "default",
            vec![
                NodeSpec::new(16 * MIB, 48 * MIB, 32 * MIB, 0, 16 * MIB),
                NodeSpec::new(0, 0, 112 * MIB, 0, 32 * MIB),
            ],
            2,
        );
        spec.tunables.pcp_batch = Some(63);
        spec.tunables.pcp_high = Some(1024);
        spec
    }

    /// A 64 MiB, two-node machine with the default machine's layout scaled
    /// down: node 0 has DMA 4 MiB, DMA32 12 MiB, Normal 8 MiB, Movable 8 MiB;
    /// node 1 has Normal 24 MiB and Movable 8 MiB. One CPU per node.
    pub fn test_64mib() -> MachineSpec {
        MachineSpec::new(
            "test-64MiB",
            vec![
                NodeSpec::new(4 * MIB, 12 * MIB, 8 * MIB, 0, 8 * MIB),
                NodeSpec::new(0, 0, 24 * MIB, 0, 8 * MIB),
            ],
            1,
        )
    }

    /// A 32-bit style single node: DMA 16 MiB, Normal 32 MiB, HighMem 16 MiB.
    pub fn highmem_32bit() -> MachineSpec {
        MachineSpec::new(
            "highmem-32bit",
            vec![NodeSpec::new(16 * MIB, 0, 32 * MIB, 16 * MIB, 0)],
            1,
        )
    }

    /// Pages per pageblock.
    pub fn pageblock_pages(&self) -> u32 {
        1 << self.tunables.pageblock_order
    }

    /// Total pages of the machine.
    pub fn total_pages(&self) -> u64 {
        self.nodes.iter().map(NodeSpec::pages).sum()
    }

    /// Checks the description.
    pub fn validate(&self) -> Result<(), SpecError> {
        let err = |s: String| Err(SpecError(s));
        let n = self.nodes.len();
        if n == 0 || n > MAX_NUMNODES {
            return err(alloc::format!("{n} nodes (1..={MAX_NUMNODES} supported)"));
        }
        if self.tunables.pageblock_order > MAX_PAGE_ORDER {
            return err(alloc::format!(
                "pageblock_order {} above MAX_PAGE_ORDER {MAX_PAGE_ORDER}",
                self.tunables.pageblock_order
            ));
        }
        let pb = self.pageblock_pages();
        for (nid, node) in self.nodes.iter().enumerate() {
            for (zi, &pages) in node.zone_pages.iter().enumerate() {
                if pages % pb != 0 {
                    return err(alloc::format!(
                        "node {nid} zone {} has {pages} pages, not a multiple of the pageblock ({pb} pages)",
                        ZoneType::ALL[zi]
                    ));
                }
            }
        }
        if self.total_pages() == 0 {
            return err("no memory".into());
        }
        let zones = (self.nodes.iter())
            .flat_map(|n| n.zone_pages.iter())
            .filter(|&&p| p > 0)
            .count();
        if zones > crate::frame::MAX_FRAME_ZONES {
            return err(alloc::format!(
                "{zones} populated zones; a page's metadata names at most {} (fewer nodes, or fewer zones per node)",
                crate::frame::MAX_FRAME_ZONES
            ));
        }
        if self.total_pages() > (u32::MAX as u64) / 2 {
            return err("more than 2^31 pages".into());
        }
        if self.distance.len() != n || self.distance.iter().any(|r| r.len() != n) {
            return err(alloc::format!("distance table is not {n}x{n}"));
        }
        if self.cpus.is_empty() {
            return err("no CPU".into());
        }
        if let Some(c) = self.cpus.iter().position(|&nid| nid >= n) {
            return err(alloc::format!(
                "CPU {c} on node {} which does not exist",
                self.cpus[c]
            ));
        }
        Ok(())
    }
}
