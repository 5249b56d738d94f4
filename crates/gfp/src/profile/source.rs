//! Deriving a [`super::Profile`] from a kernel source tree (placeholder; being written).
