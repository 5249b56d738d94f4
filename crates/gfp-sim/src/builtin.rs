//! The built-in scenarios (files under `scenarios/`, embedded).

/// Name and text of every built-in scenario, in a stable order.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "bcachefs-scoped-nowait",
        include_str!("../scenarios/bcachefs-scoped-nowait.scenario"),
    ),
    (
        "bcachefs-explicit-nowait",
        include_str!("../scenarios/bcachefs-explicit-nowait.scenario"),
    ),
    (
        "scoped-reclaim-in-atomic",
        include_str!("../scenarios/scoped-reclaim-in-atomic.scenario"),
    ),
    (
        "fs-reclaim-recursion",
        include_str!("../scenarios/fs-reclaim-recursion.scenario"),
    ),
    (
        "fs-reclaim-nofs",
        include_str!("../scenarios/fs-reclaim-nofs.scenario"),
    ),
    (
        "swap-over-nfs",
        include_str!("../scenarios/swap-over-nfs.scenario"),
    ),
    (
        "swap-over-nfs-memalloc",
        include_str!("../scenarios/swap-over-nfs-memalloc.scenario"),
    ),
];

/// The text of a built-in scenario.
pub fn get(name: &str) -> Option<&'static str> {
    BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}
