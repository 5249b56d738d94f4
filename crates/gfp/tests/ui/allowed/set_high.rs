// set __GFP_HIGH: safe-unrequested.
fn main() {
    let _scope = gfp::scope::set::<gfp::flag::High>();
}
