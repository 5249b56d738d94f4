// clear __GFP_SKIP_KASAN: mm-internal.
fn main() {
    let _scope = gfp::scope::clear::<gfp::flag::SkipKasan>();
}
