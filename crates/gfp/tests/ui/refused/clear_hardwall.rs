// clear __GFP_HARDWALL: unsafe.
fn main() {
    let _scope = gfp::scope::clear::<gfp::flag::Hardwall>();
}
