// set __GFP_ACCOUNT: safe.
fn main() {
    let _scope = gfp::scope::set::<gfp::flag::Account>();
}
