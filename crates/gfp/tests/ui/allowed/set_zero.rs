// set __GFP_ZERO: safe.
fn main() {
    let _scope = gfp::scope::set::<gfp::flag::Zero>();
}
