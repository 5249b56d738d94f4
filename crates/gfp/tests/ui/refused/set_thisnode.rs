// set __GFP_THISNODE: unsafe.
fn main() {
    let _scope = gfp::scope::set::<gfp::flag::Thisnode>();
}
