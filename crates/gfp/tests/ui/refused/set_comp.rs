// set __GFP_COMP: unsafe.
fn main() {
    let _scope = gfp::scope::set::<gfp::flag::Comp>();
}
