// clear __GFP_KSWAPD_RECLAIM: unsafe.
fn main() {
    let _scope = gfp::scope::clear::<gfp::flag::KswapdReclaim>();
}
