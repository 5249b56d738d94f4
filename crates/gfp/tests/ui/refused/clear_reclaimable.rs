// clear __GFP_RECLAIMABLE: mm-internal.
fn main() {
    let _scope = gfp::scope::clear::<gfp::flag::Reclaimable>();
}
