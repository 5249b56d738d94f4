// set __GFP_KSWAPD_RECLAIM: pointless.
fn main() {
    let _scope = gfp::scope::set::<gfp::flag::KswapdReclaim>();
}
