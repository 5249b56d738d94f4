// clear __GFP_COMP: unsafe.
fn main() {
    let _scope = gfp::scope::clear::<gfp::flag::Comp>();
}
