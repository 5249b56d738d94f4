// set __GFP_DIRECT_RECLAIM: unsafe.
fn main() {
    let _scope = gfp::scope::set::<gfp::flag::DirectReclaim>();
}
