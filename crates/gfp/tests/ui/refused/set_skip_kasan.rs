// set __GFP_SKIP_KASAN: mm-internal.
fn main() {
    let _scope = gfp::scope::set::<gfp::flag::SkipKasan>();
}
