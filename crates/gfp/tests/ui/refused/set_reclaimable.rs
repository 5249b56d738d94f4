// set __GFP_RECLAIMABLE: unsafe.
fn main() {
    let _scope = gfp::scope::set::<gfp::flag::Reclaimable>();
}
