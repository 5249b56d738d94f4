// set __GFP_HARDWALL: safe-unrequested.
fn main() {
    let _scope = gfp::scope::set::<gfp::flag::Hardwall>();
}
