// set __GFP_WRITE: safe-unrequested.
fn main() {
    let _scope = gfp::scope::set::<gfp::flag::Write>();
}
