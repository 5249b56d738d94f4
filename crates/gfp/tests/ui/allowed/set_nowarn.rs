// set __GFP_NOWARN: safe.
fn main() {
    let _scope = gfp::scope::set::<gfp::flag::Nowarn>();
}
