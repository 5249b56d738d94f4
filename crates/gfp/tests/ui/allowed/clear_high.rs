// clear __GFP_HIGH: safe-unrequested.
fn main() {
    let _scope = gfp::scope::clear::<gfp::flag::High>();
}
