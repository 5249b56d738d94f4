// clear __GFP_NOWARN: safe.
fn main() {
    let _scope = gfp::scope::clear::<gfp::flag::Nowarn>();
}
