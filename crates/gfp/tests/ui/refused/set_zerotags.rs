// set __GFP_ZEROTAGS: mm-internal.
fn main() {
    let _scope = gfp::scope::set::<gfp::flag::Zerotags>();
}
