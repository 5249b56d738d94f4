//! The `gfp` command.
fn main() {}
