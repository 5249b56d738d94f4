// clear __GFP_THISNODE: unsafe.
fn main() {
    let _scope = gfp::scope::clear::<gfp::flag::Thisnode>();
}
