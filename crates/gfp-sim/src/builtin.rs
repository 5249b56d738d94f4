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
    (
        "fs-reclaim-cycle",
        include_str!("../scenarios/fs-reclaim-cycle.scenario"),
    ),
    (
        "softirq-spinlock",
        include_str!("../scenarios/softirq-spinlock.scenario"),
    ),
    (
        "softirq-spinlock-bh",
        include_str!("../scenarios/softirq-spinlock-bh.scenario"),
    ),
    (
        "swap-over-nfs-irq",
        include_str!("../scenarios/swap-over-nfs-irq.scenario"),
    ),
    (
        "swap-write-errors",
        include_str!("../scenarios/swap-write-errors.scenario"),
    ),
    (
        "swap-write-errors-flaky",
        include_str!("../scenarios/swap-write-errors-flaky.scenario"),
    ),
    (
        "disk-errors",
        include_str!("../scenarios/disk-errors.scenario"),
    ),
];

/// The text of a built-in scenario.
pub fn get(name: &str) -> Option<&'static str> {
    BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}
