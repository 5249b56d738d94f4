//! Sets of NUMA nodes (`nodemask_t`), printed as the kernel's `%*pbl` does.

use core::fmt;

/// The largest number of nodes a machine may have.
pub const MAX_NUMNODES: usize = 64;

/// A NUMA node number.
pub type NodeId = usize;

/// A set of nodes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(transparent)]
pub struct NodeMask(u64);

impl NodeMask {
    /// No node.
    pub const EMPTY: NodeMask = NodeMask(0);

    /// Nodes `0..n`.
    pub const fn first(n: usize) -> NodeMask {
        if n >= 64 {
            NodeMask(u64::MAX)
        } else {
            NodeMask((1u64 << n) - 1)
        }
    }

    /// The single node `nid`.
    pub const fn single(nid: NodeId) -> NodeMask {
        NodeMask(1u64 << nid)
    }

    /// A mask from its raw bits (bit `n` is node `n`).
    pub const fn from_bits(bits: u64) -> NodeMask {
        NodeMask(bits)
    }

    /// The raw bits.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// Whether `nid` is in the set (`node_isset`).
    #[inline(always)]
    pub const fn contains(self, nid: NodeId) -> bool {
        nid < 64 && self.0 & (1u64 << nid) != 0
    }

    /// The set with `nid` added.
    pub const fn with(self, nid: NodeId) -> NodeMask {
        NodeMask(self.0 | (1u64 << nid))
    }

    /// Intersection.
    pub const fn and(self, other: NodeMask) -> NodeMask {
        NodeMask(self.0 & other.0)
    }

    /// Whether the sets share a node (`nodes_intersects`).
    pub const fn intersects(self, other: NodeMask) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether every node of `self` is in `other`.
    pub const fn is_subset_of(self, other: NodeMask) -> bool {
        self.0 & !other.0 == 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Number of nodes in the set.
    pub const fn weight(self) -> u32 {
        self.0.count_ones()
    }

    /// The nodes, lowest first.
    pub fn iter(self) -> impl Iterator<Item = NodeId> {
        (0..64).filter(move |&n| self.contains(n))
    }
}

impl fmt::Display for NodeMask {
    /// The kernel's range list: `0-1,3`; empty prints nothing.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut n = 0;
        while n < 64 {
            if !self.contains(n) {
                n += 1;
                continue;
            }
            let start = n;
            while n + 1 < 64 && self.contains(n + 1) {
                n += 1;
            }
            if !first {
                f.write_str(",")?;
            }
            first = false;
            if start == n {
                write!(f, "{start}")?;
            } else {
                write!(f, "{start}-{n}")?;
            }
            n += 1;
        }
        Ok(())
    }
}

impl fmt::Debug for NodeMask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeMask({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn range_list_format() {
        assert_eq!(NodeMask::first(2).to_string(), "0-1");
        assert_eq!(NodeMask::single(0).with(1).with(3).to_string(), "0-1,3");
        assert_eq!(NodeMask::single(2).to_string(), "2");
        assert_eq!(NodeMask::EMPTY.to_string(), "");
        assert!(NodeMask::single(1).is_subset_of(NodeMask::first(2)));
        assert!(!NodeMask::single(2).is_subset_of(NodeMask::first(2)));
    }
}
