// set __GFP_NOFAIL: unsafe.
fn main() {
    let _scope = gfp::scope::set::<gfp::flag::Nofail>();
}
