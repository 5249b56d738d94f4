//! Cpusets: a tree of node sets. A task may allocate from its cpuset's
//! nodes; `__GFP_HARDWALL` requests stop there, other requests may also use
//! the nodes of the nearest ancestor that is `mem_hardwall` or
//! `mem_exclusive` (`cpuset_node_allowed()`).

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use gfp::Gfp;

use crate::nodemask::{NodeId, NodeMask};
use crate::task::Task;

/// Identifies a cpuset of a [`CpusetTree`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct CpusetId(pub u32);

impl CpusetId {
    /// The root cpuset, holding every node.
    pub const ROOT: CpusetId = CpusetId(0);
}

/// One cpuset.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Cpuset {
    /// Its name (for `cpuset=` in failure reports).
    pub name: String,
    /// The parent; `None` for the root.
    pub parent: Option<CpusetId>,
    /// `cpuset.mems`.
    pub mems: NodeMask,
    /// `cpuset.mem_hardwall`.
    pub mem_hardwall: bool,
    /// `cpuset.mem_exclusive`.
    pub mem_exclusive: bool,
}

/// Why a cpuset could not be created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CpusetError {
    /// The parent does not exist.
    NoParent(CpusetId),
    /// The nodes are not a non-empty subset of the parent's.
    BadMems {
        /// Requested.
        mems: NodeMask,
        /// The parent's.
        parent: NodeMask,
    },
}

impl fmt::Display for CpusetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CpusetError::NoParent(id) => write!(f, "cpuset {} does not exist", id.0),
            CpusetError::BadMems { mems, parent } => {
                write!(
                    f,
                    "mems {mems} are not a non-empty subset of the parent's {parent}"
                )
            }
        }
    }
}

impl core::error::Error for CpusetError {}

/// The cpuset hierarchy.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CpusetTree {
    sets: Vec<Cpuset>,
}

impl CpusetTree {
    /// A tree holding only the root, with `all` nodes.
    pub fn new(all: NodeMask) -> CpusetTree {
        CpusetTree {
            sets: vec![Cpuset {
                name: "/".into(),
                parent: None,
                mems: all,
                mem_hardwall: false,
                mem_exclusive: false,
            }],
        }
    }

    /// Creates a child cpuset.
    pub fn create(
        &mut self,
        parent: CpusetId,
        name: &str,
        mems: NodeMask,
        mem_hardwall: bool,
        mem_exclusive: bool,
    ) -> Result<CpusetId, CpusetError> {
        let p = self.get(parent).ok_or(CpusetError::NoParent(parent))?;
        if mems.is_empty() || !mems.is_subset_of(p.mems) {
            return Err(CpusetError::BadMems {
                mems,
                parent: p.mems,
            });
        }
        let id = CpusetId(self.sets.len() as u32);
        self.sets.push(Cpuset {
            name: name.into(),
            parent: Some(parent),
            mems,
            mem_hardwall,
            mem_exclusive,
        });
        Ok(id)
    }

    /// The cpuset `id`.
    pub fn get(&self, id: CpusetId) -> Option<&Cpuset> {
        self.sets.get(id.0 as usize)
    }

    /// Number of cpusets, root included. More than one means cpusets are
    /// in use (`cpusets_enabled()`).
    pub fn len(&self) -> usize {
        self.sets.len()
    }

    /// Whether only the root exists (never: the root always exists; kept
    /// for the usual pairing with [`CpusetTree::len`]).
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// The nearest ancestor (or `id` itself) that is `mem_hardwall` or
    /// `mem_exclusive`, or the root (`nearest_hardwall_ancestor()`).
    pub fn nearest_hardwall_ancestor(&self, id: CpusetId) -> CpusetId {
        let mut cur = id;
        while let Some(cs) = self.get(cur) {
            if cs.mem_hardwall || cs.mem_exclusive {
                return cur;
            }
            match cs.parent {
                Some(p) => cur = p,
                None => return cur,
            }
        }
        CpusetId::ROOT
    }

    /// `cpuset_node_allowed()`: whether `task` may allocate on `nid`.
    ///
    /// Interrupts may use any node; so may OOM victims. Otherwise the
    /// task's `mems_allowed` decides, and if the node is outside, a
    /// `__GFP_HARDWALL` request is refused, an exiting task is let through,
    /// and anything else may use the nodes of the nearest hardwall ancestor.
    pub fn node_allowed(&self, task: &Task<'_>, nid: NodeId, gfp: Gfp) -> bool {
        if task.in_interrupt() || task.mems_allowed.contains(nid) || task.oom_victim {
            return true;
        }
        if gfp.contains(Gfp::HARDWALL) {
            return false;
        }
        if task.exiting {
            return true;
        }
        let anc = self.nearest_hardwall_ancestor(task.cpuset);
        self.get(anc).is_some_and(|cs| cs.mems.contains(nid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hardwall_ancestor_widens_non_hardwall_requests() {
        let mut t = CpusetTree::new(NodeMask::first(4));
        let wall = t
            .create(CpusetId::ROOT, "wall", NodeMask::first(2), true, false)
            .unwrap();
        let leaf = t
            .create(wall, "leaf", NodeMask::single(0), false, false)
            .unwrap();
        assert_eq!(t.nearest_hardwall_ancestor(leaf), wall);
        let task = Task {
            cpuset: leaf,
            mems_allowed: NodeMask::single(0),
            ..Task::new()
        };
        assert!(t.node_allowed(&task, 0, Gfp::USER));
        assert!(!t.node_allowed(&task, 1, Gfp::USER));
        assert!(t.node_allowed(&task, 1, Gfp::KERNEL));
        assert!(!t.node_allowed(&task, 2, Gfp::KERNEL));
        let victim = Task {
            oom_victim: true,
            ..task
        };
        assert!(victim.mems_allowed.contains(0) && t.node_allowed(&victim, 3, Gfp::USER));
        assert!(matches!(
            t.create(leaf, "x", NodeMask::single(1), false, false),
            Err(CpusetError::BadMems { .. })
        ));
    }
}
