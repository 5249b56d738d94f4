// clear __GFP_ZERO: unsafe.
fn main() {
    let _scope = gfp::scope::clear::<gfp::flag::Zero>();
}
