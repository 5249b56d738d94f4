//! What a mask lets an allocation do, in words (placeholder; being written).

use alloc::string::String;

use crate::flags::Gfp;

/// One line saying what matters about an allocation with `gfp` (and `order`,
/// when known): may it sleep, which zones, reserves, failure mode.
pub fn brief(gfp: Gfp, order: Option<u32>) -> String {
    let _ = (gfp, order);
    String::new()
}
