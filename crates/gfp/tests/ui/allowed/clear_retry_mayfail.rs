// clear __GFP_RETRY_MAYFAIL: pointless.
fn main() {
    let _scope = gfp::scope::clear::<gfp::flag::RetryMayfail>();
}
