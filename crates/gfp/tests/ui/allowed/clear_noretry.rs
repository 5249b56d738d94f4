// clear __GFP_NORETRY: pointless.
fn main() {
    let _scope = gfp::scope::clear::<gfp::flag::Noretry>();
}
