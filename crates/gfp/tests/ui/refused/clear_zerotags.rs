// clear __GFP_ZEROTAGS: mm-internal.
fn main() {
    let _scope = gfp::scope::clear::<gfp::flag::Zerotags>();
}
