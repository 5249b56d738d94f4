// clear __GFP_ACCOUNT: unsafe.
fn main() {
    let _scope = gfp::scope::clear::<gfp::flag::Account>();
}
