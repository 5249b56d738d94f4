// clear __GFP_NOFAIL: unsafe.
fn main() {
    let _scope = gfp::scope::clear::<gfp::flag::Nofail>();
}
