// clear __GFP_SKIP_ZERO: mm-internal.
fn main() {
    let _scope = gfp::scope::clear::<gfp::flag::SkipZero>();
}
