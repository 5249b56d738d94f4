// set __GFP_SKIP_ZERO: mm-internal.
fn main() {
    let _scope = gfp::scope::set::<gfp::flag::SkipZero>();
}
