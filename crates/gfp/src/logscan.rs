//! Reading kernel logs and traces for gfp masks (placeholder; being written).
