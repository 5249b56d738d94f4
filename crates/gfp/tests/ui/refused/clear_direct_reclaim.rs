// clear __GFP_DIRECT_RECLAIM: unsafe.
fn main() {
    let _scope = gfp::scope::clear::<gfp::flag::DirectReclaim>();
}
